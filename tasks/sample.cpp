// sample.cpp: readable and JSON-lines dumps of task examples (see sample.h). The JSON is written by
// hand: it is three flat arrays/maps of integers and keeps this library free of a JSON dependency.
#include "tasks/sample.h"

#include <fmt/format.h>

#include <algorithm>

namespace db {

namespace {

// metadata keys are identifiers in practice, but escape anyway so the output is always valid JSON
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20)
          out += fmt::format("\\u{:04x}", c);
        else
          out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string json_line(const Example& ex) {
  std::string out = "{\"input\":[";
  for (size_t i = 0; i < ex.input.size(); ++i) out += fmt::format("{}{}", i ? "," : "", ex.input[i]);
  out += "],\"target\":[";
  for (size_t i = 0; i < ex.target.size(); ++i) {
    if (i) out += ',';
    out += ex.target[i] == IGNORE ? std::string("null") : std::to_string(ex.target[i]);
  }
  out += "],\"meta\":{";
  bool first = true;
  for (const auto& [key, value] : ex.meta) {
    out += fmt::format("{}{}:{}", first ? "" : ",", json_string(key), value);
    first = false;
  }
  return out + "}}";
}

}  // namespace

void print_samples(const Task& task, Split split, uint64_t seed, int64_t n, const std::string& format,
                   std::ostream& os) {
  if (format != "text" && format != "jsonl")
    throw ConfigError("format", fmt::format("format must be text or jsonl, got '{}'", format));
  const int64_t count = std::clamp<int64_t>(n, 0, task.split_size(split));
  const auto examples = task.generate(split, split_seed(seed, split), 0, count);
  for (size_t i = 0; i < examples.size(); ++i) {
    const Example& ex = examples[i];
    if (format == "jsonl") {
      os << json_line(ex) << '\n';
      continue;
    }
    std::string meta;
    for (const auto& [key, value] : ex.meta) meta += fmt::format(" {}={}", key, value);
    os << fmt::format("# {} {} example {} (seed {}), {} tokens:{}\n", task.name(), split_name(split), i, seed,
                      ex.input.size(), meta);
    // the task's rendering, then the raw tokens unless that rendering already is them
    const std::string readable = task.describe(ex);
    const std::string raw = task.Task::describe(ex);
    os << readable << '\n';
    if (readable.find(raw) == std::string::npos) os << raw << '\n';
    os << '\n';
  }
}

}  // namespace db
