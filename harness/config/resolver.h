// resolver.h: one layered config tree + one seed -> a validated ResolvedConfig.
//
// This is where every key meets its spec: task.<key> against the task's options (then the task's
// own cross-field checks), model.mixer.<key> against the mixer's, model.* and train.* against
// config_schema.h plus config_checks.h. Any problem becomes an ExperimentError at the Origin of the
// offending key. Defaults are filled in, so config.yaml, runs.csv and the hash describe the run
// completely. The slug is left empty: it depends on which keys the whole sweep varies.
#pragma once

#include <cstdint>
#include <string>

#include "harness/config/component_catalog.h"
#include "harness/config/config_tree.h"
#include "harness/config/resolved_config.h"

namespace db {

ResolvedConfig resolve_run(const ConfigTree& tree, uint64_t seed, const std::string& experiment,
                           const ComponentCatalog& catalog);

// Every value in `tree` checked on its own (known key, type, choice, range, component name), without
// the task's and mixers' checks that relate values to each other. Applied to an experiment's base
// config: a value that every sweep point overrides is used by no run, yet a reader believes it is.
void check_values_alone(const ConfigTree& tree, const ComponentCatalog& catalog);

// the run's canonical YAML (sections task, model, train, seed; keys sorted; defaults filled): what
// decides its result, so train.threads is left out
std::string canonical_yaml(const ResolvedConfig& config);
// 12 hex digits of fnv1a64(canonical_yaml)
std::string config_hash(const std::string& canonical_yaml_text);

}  // namespace db
