// resolved_config.h: one fully resolved, validated run of an experiment.
//
// The sweep expander produces these (profile + sweep point + --set overrides applied, every key
// checked against its declared spec); the trainer consumes them. `flat` is the dotted-key view
// written as runs.csv columns; `hash` identifies the run (its folder is runs/<slug>-<hash>).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/options.h"
#include "models/core/registry.h"  // MixerSpec

namespace db {

struct ResolvedConfig {
  std::string experiment;                   // experiment name (results/<experiment>/)
  std::string task_name;                    // task.name
  std::map<std::string, OptionValue> task;  // task.<key> values given (validated against the task's specs)
  Options model;                            // model.<key>, defaults filled
  std::vector<MixerSpec> mixers;            // one mixer, or several cycled over the layers (hybrids)
  Options train;                            // train.<key>, defaults filled
  uint64_t seed = 0;

  std::vector<std::pair<std::string, std::string>> flat;  // dotted key -> value text, sorted by key
  std::string yaml;                                       // the resolved config as YAML (config.yaml)
  std::string hash;                                       // 12 hex digits of the canonical config
  std::string slug;                                       // readable name from the swept values
};

}  // namespace db
