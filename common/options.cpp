// options.cpp: resolution and typed lookup of declared parameters (see options.h).
#include "common/options.h"

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstdlib>
#include <fmt/format.h>

namespace db {

const char* option_type_name(const OptionValue& v) {
  switch (v.index()) {
    case 0: return "bool";
    case 1: return "int";
    case 2: return "float";
    case 3: return "string";
    default: return "list";
  }
}

std::string option_to_string(const OptionValue& v) {
  if (auto b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (auto i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto d = std::get_if<double>(&v)) return fmt::format("{:g}", *d);
  if (auto s = std::get_if<std::string>(&v)) return *s;
  const auto& l = std::get<std::vector<double>>(v);
  std::string out = "[";
  for (size_t i = 0; i < l.size(); ++i) out += (i ? ", " : "") + fmt::format("{:g}", l[i]);
  return out + "]";
}

namespace {
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  // accept up to a third of the word's length in edits (at least 2)
  return best_d <= std::max<size_t>(2, word.size() / 3) ? best : "";
}

std::string suggestion(const std::string& word, const std::vector<std::string>& known) {
  if (known.empty()) return "";
  const std::string hint = closest_match(word, known);
  if (!hint.empty()) return fmt::format(" (did you mean '{}'?)", hint);
  return fmt::format(" (known: {})", fmt::join(known, ", "));
}

Options Options::resolve(const OptionSpecs& specs, const std::map<std::string, OptionValue>& given) {
  Options out;
  std::vector<std::string> names;
  for (const auto& s : specs) {
    out.values_[s.key] = s.default_value;
    names.push_back(s.key);
  }
  for (const auto& given_entry : given) {
    // named references, not a structured binding: clang 14 cannot capture a binding in the lambda below
    const std::string& key = given_entry.first;
    const OptionValue& value = given_entry.second;
    auto it = std::find_if(specs.begin(), specs.end(), [&](const OptionSpec& s) { return s.key == key; });
    if (it == specs.end()) throw ConfigError(key, fmt::format("unknown key '{}'{}", key, suggestion(key, names)));
    OptionValue v = value;
    const auto& def = it->default_value;
    if (std::holds_alternative<double>(def) && std::holds_alternative<int64_t>(v))
      v = static_cast<double>(std::get<int64_t>(v));
    if (std::holds_alternative<std::vector<double>>(def) && std::holds_alternative<int64_t>(v))
      v = std::vector<double>{static_cast<double>(std::get<int64_t>(v))};
    if (std::holds_alternative<std::vector<double>>(def) && std::holds_alternative<double>(v))
      v = std::vector<double>{std::get<double>(v)};
    if (v.index() != def.index())
      throw ConfigError(key, fmt::format("'{}' must be {} {}, got {} '{}'", key,
                                         def.index() == 1 ? "an" : "a", option_type_name(def),
                                         option_type_name(value), option_to_string(value)));
    // 1e400 reads as infinity: no setting means that, and a run would only diverge later
    const auto finite = [](double d) { return std::isfinite(d); };
    if (const double* d = std::get_if<double>(&v); d && !finite(*d))
      throw ConfigError(key, fmt::format("'{}' must be a finite number, got {}", key, option_to_string(v)));
    if (const auto* list = std::get_if<std::vector<double>>(&v); list && !std::all_of(list->begin(), list->end(), finite))
      throw ConfigError(key, fmt::format("'{}' must hold finite numbers, got {}", key, option_to_string(v)));
    if (!it->choices.empty()) {
      const auto& s = std::get<std::string>(v);
      if (std::find(it->choices.begin(), it->choices.end(), s) == it->choices.end()) {
        std::string list;
        for (const auto& c : it->choices) list += (list.empty() ? "" : ", ") + c;
        throw ConfigError(key, fmt::format("'{}' must be one of {}, got '{}'", key, list, s));
      }
    }
    out.values_[key] = std::move(v);
  }
  return out;
}

const OptionValue& Options::at(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw std::logic_error("option '" + key + "' was never declared");
  return it->second;
}

template <class T>
static const T& typed(const OptionValue& v, const std::string& key) {
  if (auto p = std::get_if<T>(&v)) return *p;
  throw std::logic_error(fmt::format("option '{}' is a {}", key, option_type_name(v)));
}

bool Options::get_bool(const std::string& key) const { return typed<bool>(at(key), key); }
int64_t Options::get_int(const std::string& key) const { return typed<int64_t>(at(key), key); }
double Options::get_double(const std::string& key) const {
  const auto& v = at(key);
  if (auto i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  return typed<double>(v, key);
}
const std::string& Options::get_string(const std::string& key) const { return typed<std::string>(at(key), key); }
const std::vector<double>& Options::get_list(const std::string& key) const {
  return typed<std::vector<double>>(at(key), key);
}

}  // namespace db

namespace db {
namespace {
bool parse_number(const std::string& t, OptionValue& out) {
  if (t.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long long i = std::strtoll(t.c_str(), &end, 10);
  if (end == t.c_str() + t.size() && errno == 0) {
    out = static_cast<int64_t>(i);
    return true;
  }
  const double d = std::strtod(t.c_str(), &end);
  if (end == t.c_str() + t.size()) {
    out = d;
    return true;
  }
  return false;
}
std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}
}  // namespace

OptionValue parse_option_value(const std::string& raw) {
  const std::string text = trim(raw);
  if (text == "true" || text == "True") return true;
  if (text == "false" || text == "False") return false;
  OptionValue v;
  if (parse_number(text, v)) return v;
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    std::vector<double> list;
    std::string inner = text.substr(1, text.size() - 2), item;
    size_t start = 0;
    while (start <= inner.size()) {
      const size_t comma = inner.find(',', start);
      item = trim(inner.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (!item.empty()) {
        OptionValue x;
        if (!parse_number(item, x)) return text;  // not a numeric list: keep the text
        list.push_back(std::holds_alternative<int64_t>(x) ? static_cast<double>(std::get<int64_t>(x))
                                                          : std::get<double>(x));
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return list;
  }
  return text;
}
}  // namespace db
