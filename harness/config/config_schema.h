// config_schema.h: the declared keys of an experiment's model and train sections.
//
// Task keys come from the task registry (task.<key>), mixer keys from the mixer registry
// (model.mixer.<key>); the keys below are the model scaffold's and the training loop's.
// One list drives validation, `deltabench list`, docs/yaml-reference.md and the CSV columns.
#pragma once

#include "common/options.h"

namespace db {

// model.<key> (everything but model.mixer / model.mixers)
const OptionSpecs& model_option_specs();
// train.<key>
const OptionSpecs& train_option_specs();

}  // namespace db
