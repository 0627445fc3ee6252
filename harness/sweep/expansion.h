// expansion.h: an experiment + profile + --set overrides -> the full, ordered list of runs.
//
// Layering, lowest precedence first: the file's task/model/train, the profile's `set`, the sweep
// point, then --set. Expansion order (deterministic, and the basis of --shard):
//   for each change (baseline first, then each change alone)
//     for each grid combination (first key varies slowest)
//       for each combination of zip groups (first group slowest; a group's lists move together)
//         for each seed
// Every run is resolved and validated before anything trains; runs whose resolved config equals an
// earlier one (a change that restates the baseline, a --set that pins a swept key) are dropped.
#pragma once

#include <string>
#include <vector>

#include "harness/config/component_catalog.h"
#include "harness/config/experiment_file.h"
#include "harness/config/resolved_config.h"

namespace db {

struct ExpandOptions {
  std::string profile;            // "" = none
  std::vector<std::string> sets;  // "key=value" texts from --set, applied in order
};

struct Expansion {
  std::string experiment;                 // the experiment's name
  std::vector<ResolvedConfig> runs;       // distinct runs in expansion order, slugs filled
  std::vector<std::string> varying_keys;  // flat keys whose values differ between runs (sorted)
  size_t duplicates_dropped = 0;
};

Expansion expand_experiment(const Experiment& experiment, const ExpandOptions& options, const ComponentCatalog& catalog);

// "train.lr=1e-3" -> an Assignment whose value is the YAML reading of the text after '='; maps and
// lists are allowed (--set 'model.mixer={name: deltanet}'). Throws ExperimentError naming the text.
Assignment parse_set_override(const std::string& text);

// the file's sweep with a profile's sweep on top: grid axes replace same-named axes (else are
// added), zip groups replace groups sharing a key (else are added), changes replace changes; a key
// the profile sweeps is taken out of the other kind of axis too (a profile grid axis out of the
// file's zip groups, a profile zip key out of the file's grid), so it is swept exactly once
SweepSpec merge_sweeps(const SweepSpec& base, const SweepSpec& over);

// readable folder-name part: mixer name(s), then key+value for each varying key, then s<seed>;
// only [A-Za-z0-9._+=-], at most 80 characters
std::string make_slug(const ResolvedConfig& config, const std::vector<std::string>& varying_keys);

}  // namespace db
