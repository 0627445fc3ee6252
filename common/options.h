// options.h: typed, self-describing parameters for tasks and mixers.
//
// A task or mixer declares its parameters once (name, default, one-line help). That list drives
// validation of YAML and --set values, `deltabench list`, the YAML reference and the dotted CSV
// columns, so the four can never disagree. Values are resolved into an Options map; lookups of an
// undeclared key or the wrong type are programming errors and throw std::logic_error. Bad values
// supplied by a user throw ConfigError naming the key, which the harness turns into file:line:key.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace db {

// A user-facing configuration mistake. `key` is the dotted path relative to the component that
// raised it (e.g. "num_kv_pairs"); the harness prefixes it ("task.num_kv_pairs") and adds file:line.
struct ConfigError : std::runtime_error {
  std::string key;
  ConfigError(std::string key_, const std::string& message) : std::runtime_error(message), key(std::move(key_)) {}
};

using OptionValue = std::variant<bool, int64_t, double, std::string, std::vector<double>>;

// "bool", "int", "float", "string", "list"
const char* option_type_name(const OptionValue& v);
// a readable rendering: true, 8, 0.001, sigmoid, [-1, 1]
std::string option_to_string(const OptionValue& v);

struct OptionSpec {
  std::string key;
  OptionValue default_value;
  std::string help;
  std::vector<std::string> choices = {};  // non-empty: a string option must be one of these
};

using OptionSpecs = std::vector<OptionSpec>;

class Options {
 public:
  Options() = default;
  // defaults from `specs`, then `given` on top; throws ConfigError for an unknown key (with a
  // "did you mean" suggestion), a value of the wrong type (ints are accepted where floats are
  // expected) or a string outside its choices
  static Options resolve(const OptionSpecs& specs, const std::map<std::string, OptionValue>& given);

  bool has(const std::string& key) const { return values_.count(key) != 0; }
  bool get_bool(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  const std::vector<double>& get_list(const std::string& key) const;

  void set(const std::string& key, OptionValue v) { values_[key] = std::move(v); }
  const std::map<std::string, OptionValue>& values() const { return values_; }

 private:
  const OptionValue& at(const std::string& key) const;
  std::map<std::string, OptionValue> values_;
};

// closest candidate by edit distance, or "" when nothing is close; for "did you mean" messages
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);
// The tail of every "unknown name" message: " (did you mean 'x'?)" with the closest of `known`, else
// " (known: a, b, c)", or "" when nothing is known. Written once so every such error reads alike.
std::string suggestion(const std::string& word, const std::vector<std::string>& known);

}  // namespace db

namespace db {
// parse a value as written on the command line or in YAML flow style: true/false, integers,
// floats (1e-3), [a, b, ...] lists of numbers, anything else is a string
OptionValue parse_option_value(const std::string& text);
}  // namespace db
