// config_tree.h: an experiment's settings as dotted keys, each remembering where it was written.
//
// The base file, a profile's `set`, a sweep point and --set overrides are layered onto one tree in
// that order. Keeping keys flat (task.seq_len, model.mixer.num_heads, model.mixers.1.window) makes
// "assign this value at this dotted key" the only operation every layer needs, and keeping an Origin
// per key lets a validation error several layers later still name the file line or --set text that
// introduced the bad value.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "harness/config/experiment_error.h"

namespace db {

// where the nodes of one assignment came from: a file (each node keeps its own line) or one
// command-line override (every node points at its text)
struct ValueSource {
  std::string file;
  std::string override_text;  // "--set train.lr=fast"; empty for file values
  Origin origin_of(const YAML::Node& node, int fallback_zero_based_line = -1) const;
};

struct ConfigLeaf {
  YAML::Node value;  // a scalar, a list of scalars, or null
  Origin origin;
};

class ConfigTree {
 public:
  // Set `path` to `value`, replacing everything at or below `path`. Maps are flattened into dotted
  // keys (a key written with dots inside a map is a path too); lists of maps are indexed
  // (model.mixers.0.name); anything else is one leaf. Duplicate keys in a map throw.
  void assign(const std::string& path, const YAML::Node& value, const ValueSource& source,
              int fallback_zero_based_line = -1);
  // remove `path` and everything below it
  void erase(const std::string& path);

  const std::map<std::string, ConfigLeaf>& leaves() const { return leaves_; }
  const ConfigLeaf* find(const std::string& path) const;
  // (relative key, leaf) for every leaf strictly below `prefix`
  std::vector<std::pair<std::string, const ConfigLeaf*>> below(const std::string& prefix) const;
  bool has_below(const std::string& prefix) const { return !below(prefix).empty(); }
  // where `path` (or its nearest written ancestor) was set; the file itself when nothing was
  Origin origin_of(const std::string& path) const;
  void set_fallback_origin(Origin o) { fallback_ = std::move(o); }
  // `task: mqar` and `mixer: deltanet` are shorthand for {name: ...}: move a scalar leaf at `path`
  // to `path.name`, so that later keys below `path` add to it instead of replacing it
  void expand_name_shorthand(const std::string& path);

 private:
  std::map<std::string, ConfigLeaf> leaves_;
  std::map<std::string, Origin> sections_;  // maps that were assigned, for errors about keys they lack
  Origin fallback_;
};

// true when `path` equals `prefix` or lies below it (prefix "model.mixer" holds "model.mixer.name"
// but not "model.mixers.0.name")
bool key_is_at_or_below(const std::string& path, const std::string& prefix);

}  // namespace db
