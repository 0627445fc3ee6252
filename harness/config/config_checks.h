// config_checks.h: range checks on model.* and train.* values that no type check can catch.
//
// The option specs (config_schema.h) fix types and choices; these checks reject values that are
// well-typed but impossible (a negative learning rate, zero layers, neither epochs nor steps), so a
// sweep fails before its first run instead of hours later. A key the schema no longer declares is
// skipped, so the checks never get ahead of the schema.
#pragma once

#include "common/options.h"

namespace db {

// throw ConfigError(key relative to the section, message)
void check_model_values(const Options& model);
void check_train_values(const Options& train);

}  // namespace db
