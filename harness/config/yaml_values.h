// yaml_values.h: conversion between YAML leaves and typed option values, and their canonical text.
//
// YAML leaves become OptionValues with the same rules as --set text (common/options.h
// parse_option_value), except that a quoted scalar always stays a string. The canonical text is
// what config.yaml, runs.csv and the config hash use, so it must be stable: doubles are printed in
// their shortest round-trip form and always keep a '.' or exponent (1.0, not 1), so they read back
// as floats.
#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

#include "common/options.h"
#include "harness/config/experiment_error.h"

namespace db {

// a scalar or a list of numbers -> OptionValue; maps, nulls and mixed lists throw ExperimentError
OptionValue yaml_to_option_value(const YAML::Node& node, const Origin& origin, const std::string& key);

// the value as text for CSV cells and flat keys: 8, 0.001, 1.0, true, deltanet, [0.9, 0.999]
std::string value_text(const OptionValue& v);
// the value as a YAML scalar: like value_text, but strings that would read back as another type
// (or contain YAML syntax) are double-quoted
std::string yaml_value_text(const OptionValue& v);
// shortest round-trip rendering of a double that reads back as a double
std::string double_text(double d);

}  // namespace db
