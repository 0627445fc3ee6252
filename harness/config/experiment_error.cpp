// experiment_error.cpp: formatting of configuration errors as location: key: message.
#include "harness/config/experiment_error.h"

namespace db {

std::string Origin::describe() const {
  if (!override.empty()) return override;
  if (file.empty()) return "<config>";
  return line > 0 ? file + ":" + std::to_string(line) : file;
}

static std::string format_error(const Origin& origin, const std::string& key, const std::string& message) {
  std::string text = origin.describe() + ": ";
  if (!key.empty()) text += key + ": ";
  return text + message;
}

ExperimentError::ExperimentError(Origin origin, std::string key, std::string message)
    : std::runtime_error(format_error(origin, key, message)),
      origin_(std::move(origin)),
      key_(std::move(key)),
      message_(std::move(message)) {}

}  // namespace db
