// yaml_values.cpp: YAML leaf <-> OptionValue (see yaml_values.h).
#include "harness/config/yaml_values.h"

#include <cmath>
#include <fmt/format.h>

namespace db {

OptionValue yaml_to_option_value(const YAML::Node& node, const Origin& origin, const std::string& key) {
  if (!node.IsDefined() || node.IsNull()) throw ExperimentError(origin, key, "has no value");
  if (node.IsMap()) throw ExperimentError(origin, key, "expected a value, got a map");
  if (node.IsScalar()) {
    // a quoted scalar ('8' or "true") is the user's explicit request for a string
    if (node.Tag() == "!") return node.Scalar();
    return parse_option_value(node.Scalar());
  }
  std::vector<double> list;
  for (const auto& item : node) {
    OptionValue v = item.IsScalar() ? parse_option_value(item.Scalar()) : OptionValue(std::string("?"));
    if (auto i = std::get_if<int64_t>(&v)) list.push_back(static_cast<double>(*i));
    else if (auto d = std::get_if<double>(&v)) list.push_back(*d);
    else throw ExperimentError(origin, key, "lists may hold only numbers");
  }
  return list;
}

std::string double_text(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", d);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string value_text(const OptionValue& v) {
  if (auto b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (auto i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto d = std::get_if<double>(&v)) return double_text(*d);
  if (auto s = std::get_if<std::string>(&v)) return *s;
  const auto& list = std::get<std::vector<double>>(v);
  std::string out = "[";
  for (size_t i = 0; i < list.size(); ++i) out += (i ? ", " : "") + double_text(list[i]);
  return out + "]";
}

std::string yaml_value_text(const OptionValue& v) {
  const auto* s = std::get_if<std::string>(&v);
  if (!s) return value_text(v);
  const bool reads_as_other_type = !std::holds_alternative<std::string>(parse_option_value(*s));
  const bool has_syntax = s->empty() || s->find_first_of(":#{}[],&*!|>'\"%@`\\\n") != std::string::npos ||
                          s->front() == ' ' || s->back() == ' ' || s->front() == '-' || s->front() == '?' ||
                          *s == "null" || *s == "~" || *s == "yes" || *s == "no";
  if (!reads_as_other_type && !has_syntax) return *s;
  std::string quoted = "\"";
  for (char c : *s) {
    if (c == '"' || c == '\\') quoted += '\\';
    if (c == '\n') { quoted += "\\n"; continue; }
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace db
