// experiment_error.h: the one exception for bad experiment input, carrying where the value came from.
//
// Every user mistake in an experiment file, a profile or a --set override becomes an ExperimentError
// whose what() reads `experiments/x.yaml:12: train.lr: must be a float, got string 'fast'` (or
// `--set train.lr=fast: train.lr: ...` for command-line overrides), so the user can jump to the line.
// The CLI maps it to exit code 2.
#pragma once

#include <stdexcept>
#include <string>

namespace db {

// where a configuration value was written
struct Origin {
  std::string file;      // experiment file as given on the command line ("" when not from a file)
  int line = 0;          // 1-based line in `file`; 0 when unknown
  std::string override;  // "--set train.lr=fast", "--profile quick"...: set when the value came from the CLI

  // "file:line", "file", or the override text
  std::string describe() const;
  static Origin from_file(const std::string& file, int zero_based_line) {
    return Origin{file, zero_based_line < 0 ? 0 : zero_based_line + 1, ""};
  }
  static Origin from_cli(const std::string& text) { return Origin{"", 0, text}; }
};

class ExperimentError : public std::runtime_error {
 public:
  ExperimentError(Origin origin, std::string key, std::string message);
  const Origin& origin() const { return origin_; }
  const std::string& key() const { return key_; }          // dotted key path, may be empty
  const std::string& message() const { return message_; }  // without location and key

 private:
  Origin origin_;
  std::string key_;
  std::string message_;
};

}  // namespace db
