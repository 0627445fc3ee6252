// config_tree.cpp: dotted-key settings with origins (see config_tree.h).
#include "harness/config/config_tree.h"

#include <set>

namespace db {

Origin ValueSource::origin_of(const YAML::Node& node, int fallback_zero_based_line) const {
  if (!override_text.empty()) return Origin::from_cli(override_text);
  int line = node.IsDefined() ? node.Mark().line : -1;
  if (line < 0) line = fallback_zero_based_line;
  return Origin::from_file(file, line);
}

bool key_is_at_or_below(const std::string& path, const std::string& prefix) {
  if (prefix.empty()) return true;
  return path == prefix || (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
                            path[prefix.size()] == '.');
}

void ConfigTree::erase(const std::string& path) {
  for (auto it = leaves_.begin(); it != leaves_.end();)
    it = key_is_at_or_below(it->first, path) ? leaves_.erase(it) : std::next(it);
  for (auto it = sections_.begin(); it != sections_.end();)
    it = key_is_at_or_below(it->first, path) ? sections_.erase(it) : std::next(it);
  // a leaf above `path` (say `task: 3`) cannot coexist with keys below it
  for (size_t dot = path.rfind('.'); dot != std::string::npos; dot = path.rfind('.', dot - 1)) {
    leaves_.erase(path.substr(0, dot));
    if (dot == 0) break;
  }
}

void ConfigTree::assign(const std::string& path, const YAML::Node& value, const ValueSource& source,
                        int fallback_zero_based_line) {
  erase(path);
  const Origin origin = source.origin_of(value, fallback_zero_based_line);
  const bool list_of_maps = value.IsSequence() && value.size() > 0 && value[0].IsMap();
  if (value.IsMap()) {
    sections_[path] = origin;
    std::set<std::string> seen;
    for (const auto& kv : value) {
      const std::string key = kv.first.as<std::string>();
      const Origin key_origin = source.origin_of(kv.first);
      if (!seen.insert(key).second) throw ExperimentError(key_origin, path + "." + key, "duplicate key");
      assign(path.empty() ? key : path + "." + key, kv.second, source, kv.first.Mark().line);
    }
  } else if (list_of_maps) {
    sections_[path] = origin;
    for (size_t i = 0; i < value.size(); ++i) {
      if (!value[i].IsMap())
        throw ExperimentError(source.origin_of(value[i]), path + "." + std::to_string(i),
                              "every item of this list must be a map like {name: ...}");
      assign(path + "." + std::to_string(i), value[i], source, origin.line - 1);
    }
  } else {
    leaves_[path] = ConfigLeaf{value, origin};
  }
}

void ConfigTree::expand_name_shorthand(const std::string& path) {
  auto it = leaves_.find(path);
  if (it == leaves_.end() || !it->second.value.IsScalar()) return;
  ConfigLeaf leaf = it->second;
  leaves_.erase(it);
  sections_[path] = leaf.origin;
  leaves_[path + ".name"] = std::move(leaf);
}

const ConfigLeaf* ConfigTree::find(const std::string& path) const {
  auto it = leaves_.find(path);
  return it == leaves_.end() ? nullptr : &it->second;
}

std::vector<std::pair<std::string, const ConfigLeaf*>> ConfigTree::below(const std::string& prefix) const {
  std::vector<std::pair<std::string, const ConfigLeaf*>> out;
  for (auto it = leaves_.lower_bound(prefix + "."); it != leaves_.end(); ++it) {
    if (!key_is_at_or_below(it->first, prefix) || it->first == prefix) break;
    out.emplace_back(it->first.substr(prefix.size() + 1), &it->second);
  }
  return out;
}

Origin ConfigTree::origin_of(const std::string& path) const {
  for (std::string p = path;;) {
    if (auto it = leaves_.find(p); it != leaves_.end()) return it->second.origin;
    if (auto it = sections_.find(p); it != sections_.end()) return it->second;
    const size_t dot = p.rfind('.');
    if (dot == std::string::npos) break;
    p = p.substr(0, dot);
  }
  return fallback_;
}

}  // namespace db
