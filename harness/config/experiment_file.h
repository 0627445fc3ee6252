// experiment_file.h: an experiment YAML file read into its parts, checked for structure only.
//
// Reading checks what can be checked without the registries: the file parses, top-level and
// section keys are known (with "did you mean"), sweep axes are non-empty lists, zipped lists have
// equal lengths, seeds are integers. Whether task.seq_len or model.mixer.num_heads are valid is
// decided later per run (resolver.h), once profiles, sweep points and --set are applied.
// Every part keeps the Origin of what it came from. Format: docs/yaml-reference.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "harness/config/config_tree.h"
#include "harness/config/experiment_error.h"

namespace db {

// one dotted key set to one value (a change, a profile's `set`, a --set override or a sweep point)
struct Assignment {
  std::string key;     // task.seq_len, model.mixer, train.lr ...
  YAML::Node value;    // scalar, list or map (maps replace everything below `key`)
  ValueSource source;  // where the value's nodes came from
  Origin origin;       // the value's own location
};

// one swept key and its values
struct SweepAxis {
  std::string key;
  std::vector<YAML::Node> values;
  std::vector<Origin> value_origins;
  Origin origin;  // the key's line
};

// keys whose value lists advance together (all the same length)
struct ZipGroup {
  std::vector<SweepAxis> axes;
  Origin origin;
  size_t length() const { return axes.empty() ? 0 : axes.front().values.size(); }
};

// one "change" from the baseline: several keys set at once
struct SweepChange {
  std::vector<Assignment> sets;
  Origin origin;
};

struct SweepSpec {
  std::vector<SweepAxis> grid;  // Cartesian product, first key varies slowest
  std::vector<ZipGroup> zip;    // each group is one more axis of the product
  std::optional<std::vector<SweepChange>> changes;  // baseline + each change alone
  Origin changes_origin;
};

struct SeedList {
  std::vector<uint64_t> seeds;
  Origin origin;
};

struct Profile {
  std::string name;
  std::string description;
  std::vector<Assignment> sets;  // applied to the base before the sweep point
  SweepSpec sweep;               // axes replace same-named axes of the file's sweep
  std::optional<SeedList> seeds;
  Origin origin;
};

struct ReportSpec {
  std::vector<std::string> rows, cols, best_over, mean_over;
  std::string value;
};

struct Experiment {
  std::string file;  // as given, for messages
  std::string name;
  std::string description;
  ConfigTree base;   // task.*, model.*, train.*
  SeedList seeds;    // defaults to {0}
  SweepSpec sweep;
  std::vector<Profile> profiles;  // in file order
  ReportSpec report;
  std::string text;  // the file's text, copied to results/<name>/experiment.yaml
};

// parse experiment text; `file_label` names it in errors. Throws ExperimentError.
Experiment parse_experiment(const std::string& text, const std::string& file_label);
// read and parse a file (missing file -> ExperimentError)
Experiment load_experiment(const std::filesystem::path& file);

// a sweep section (also used for a profile's sweep); `path` is "sweep" or "profiles.quick.sweep"
SweepSpec parse_sweep(const YAML::Node& node, const std::string& path, const std::string& file);
// the report section only (for `deltabench table`, which reads experiment.yaml beside runs.csv)
ReportSpec parse_report(const YAML::Node& node, const std::string& file);

// the sections a dotted config key may start with
bool is_config_key(const std::string& key);
// throw unless `key` starts with task./model./train. (with "did you mean" for near misses)
void check_config_key(const std::string& key, const Origin& origin);

}  // namespace db
