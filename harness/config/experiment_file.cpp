// experiment_file.cpp: structural reading of experiment YAML (see experiment_file.h).
#include "harness/config/experiment_file.h"

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/options.h"

namespace db {

namespace {

const std::vector<std::string> kTopLevelKeys = {"name", "description", "task", "model", "train", "seeds",
                                                "seed", "sweep", "profiles", "report"};
const std::vector<std::string> kSweepKeys = {"grid", "zip", "changes"};
const std::vector<std::string> kProfileKeys = {"description", "set", "sweep", "seeds"};
const std::vector<std::string> kReportKeys = {"rows", "cols", "value", "best_over", "mean_over"};
const std::vector<std::string> kConfigSections = {"task", "model", "train"};

Origin at(const std::string& file, const YAML::Node& node) { return Origin::from_file(file, node.Mark().line); }

std::string unknown_key_message(const std::string& key, const std::vector<std::string>& known) {
  return "unknown key" + suggestion(key, known);
}

// throw for keys of `map` not in `known`, and for duplicates
void check_keys(const YAML::Node& map, const std::string& path, const std::vector<std::string>& known,
                const std::string& file) {
  std::set<std::string> seen;
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    const std::string dotted = path.empty() ? key : path + "." + key;
    if (std::find(known.begin(), known.end(), key) == known.end())
      throw ExperimentError(at(file, kv.first), dotted, unknown_key_message(key, known));
    if (!seen.insert(key).second) throw ExperimentError(at(file, kv.first), dotted, "duplicate key");
  }
}

void require_map(const YAML::Node& node, const std::string& path, const std::string& file) {
  if (!node.IsMap())
    throw ExperimentError(at(file, node), path, "must be a map of keys to values ({key: value, ...})");
}

std::string scalar_string(const YAML::Node& node, const std::string& path, const std::string& file) {
  if (!node.IsScalar()) throw ExperimentError(at(file, node), path, "must be a string");
  return node.Scalar();
}

std::vector<std::string> string_list(const YAML::Node& node, const std::string& path, const std::string& file) {
  if (node.IsScalar()) return {node.Scalar()};
  if (!node.IsSequence()) throw ExperimentError(at(file, node), path, "must be a key or a list of keys");
  std::vector<std::string> out;
  for (const auto& item : node) out.push_back(scalar_string(item, path, file));
  return out;
}

SeedList parse_seeds(const YAML::Node& node, const std::string& path, const std::string& file) {
  SeedList list{{}, at(file, node)};
  auto one = [&](const YAML::Node& n) {
    OptionValue v = n.IsScalar() ? parse_option_value(n.Scalar()) : OptionValue(std::string("?"));
    const auto* i = std::get_if<int64_t>(&v);
    if (!i || *i < 0) throw ExperimentError(at(file, n), path, "seeds must be non-negative integers");
    list.seeds.push_back(static_cast<uint64_t>(*i));
  };
  if (node.IsSequence()) {
    for (const auto& item : node) one(item);
    if (list.seeds.empty()) throw ExperimentError(list.origin, path, "no seeds: the sweep would expand to nothing");
  } else {
    one(node);
  }
  return list;
}

SweepAxis parse_axis(const YAML::Node& key_node, const YAML::Node& values, const std::string& path,
                     const std::string& file) {
  SweepAxis axis;
  axis.key = key_node.as<std::string>();
  axis.origin = at(file, key_node);
  check_config_key(axis.key, axis.origin);
  if (!values.IsSequence())
    throw ExperimentError(at(file, values), path + "." + axis.key, "a sweep axis must be a list of values");
  if (values.size() == 0)
    throw ExperimentError(at(file, values), path + "." + axis.key,
                          "empty list of values: the sweep would expand to nothing");
  for (const auto& v : values) {
    axis.values.push_back(v);
    axis.value_origins.push_back(at(file, v));
  }
  return axis;
}

std::vector<Assignment> parse_assignments(const YAML::Node& map, const std::string& path, const std::string& file) {
  require_map(map, path, file);
  std::vector<Assignment> out;
  std::set<std::string> seen;
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    const Origin key_origin = at(file, kv.first);
    check_config_key(key, key_origin);
    if (!seen.insert(key).second) throw ExperimentError(key_origin, path + "." + key, "duplicate key");
    Origin value_origin = kv.second.Mark().line >= 0 ? at(file, kv.second) : key_origin;
    out.push_back(Assignment{key, kv.second, ValueSource{file, ""}, value_origin});
  }
  return out;
}

}  // namespace

bool is_config_key(const std::string& key) {
  const std::string head = key.substr(0, key.find('.'));
  return std::find(kConfigSections.begin(), kConfigSections.end(), head) != kConfigSections.end();
}

void check_config_key(const std::string& key, const Origin& origin) {
  if (is_config_key(key) && key.find("..") == std::string::npos && key.back() != '.') return;
  const std::string head = key.substr(0, key.find('.'));
  if (head == "seed" || head == "seeds")
    throw ExperimentError(origin, key, "seeds are not swept or set here; use the top-level `seeds: [...]`");
  const std::string hint = closest_match(head, kConfigSections);
  throw ExperimentError(origin, key,
                        hint.empty() || hint == head
                            ? "keys must look like task.<key>, model.<key> or train.<key>"
                            : "keys must start with task., model. or train." +
                                  suggestion(key, {hint + key.substr(head.size())}));
}

SweepSpec parse_sweep(const YAML::Node& node, const std::string& path, const std::string& file) {
  SweepSpec spec;
  if (node.IsNull()) return spec;
  require_map(node, path, file);
  check_keys(node, path, kSweepKeys, file);
  if (const auto grid = node["grid"]; grid) {
    require_map(grid, path + ".grid", file);
    for (const auto& kv : grid) spec.grid.push_back(parse_axis(kv.first, kv.second, path + ".grid", file));
  }
  if (const auto zip = node["zip"]; zip) {
    // a single group may be written without the surrounding list
    std::vector<YAML::Node> groups;
    if (zip.IsMap()) groups.push_back(zip);
    else if (zip.IsSequence()) for (const auto& g : zip) groups.push_back(g);
    else throw ExperimentError(at(file, zip), path + ".zip", "must be a list of {key: [values], ...} groups");
    for (size_t gi = 0; gi < groups.size(); ++gi) {
      const std::string gpath = fmt::format("{}.zip.{}", path, gi);
      require_map(groups[gi], gpath, file);
      ZipGroup group{{}, at(file, groups[gi])};
      for (const auto& kv : groups[gi]) group.axes.push_back(parse_axis(kv.first, kv.second, gpath, file));
      if (group.axes.empty())
        throw ExperimentError(group.origin, gpath, "empty zip group: the sweep would expand to nothing");
      for (const auto& axis : group.axes)
        if (axis.values.size() != group.length())
          throw ExperimentError(axis.origin, gpath + "." + axis.key,
                                fmt::format("zipped lists must have equal lengths: {} has {} values, {} has {}",
                                            group.axes.front().key, group.length(), axis.key, axis.values.size()));
      spec.zip.push_back(std::move(group));
    }
  }
  // a key swept by two axes would be set by whichever is applied last: copies of runs that differ in
  // nothing, or a grid that silently does not vary what it names
  std::map<std::string, Origin> swept;
  auto check_once = [&](const SweepAxis& axis, const std::string& axis_path) {
    const auto [it, first] = swept.emplace(axis.key, axis.origin);
    if (!first)
      throw ExperimentError(axis.origin, axis_path,
                            fmt::format("{} is swept twice (also at {}): give it one grid axis or one zip group", axis.key,
                                        it->second.describe()));
  };
  for (const auto& axis : spec.grid) check_once(axis, path + ".grid." + axis.key);
  for (size_t gi = 0; gi < spec.zip.size(); ++gi)
    for (const auto& axis : spec.zip[gi].axes) check_once(axis, fmt::format("{}.zip.{}.{}", path, gi, axis.key));
  if (const auto changes = node["changes"]; changes) {
    spec.changes_origin = at(file, changes);
    if (!changes.IsSequence())
      throw ExperimentError(spec.changes_origin, path + ".changes", "must be a list of {key: value, ...} changes");
    spec.changes.emplace();
    for (size_t ci = 0; ci < changes.size(); ++ci)
      spec.changes->push_back(
          SweepChange{parse_assignments(changes[ci], fmt::format("{}.changes.{}", path, ci), file), at(file, changes[ci])});
  }
  return spec;
}

ReportSpec parse_report(const YAML::Node& node, const std::string& file) {
  ReportSpec report;
  if (!node || node.IsNull()) return report;
  require_map(node, "report", file);
  check_keys(node, "report", kReportKeys, file);
  if (node["rows"]) report.rows = string_list(node["rows"], "report.rows", file);
  if (node["cols"]) report.cols = string_list(node["cols"], "report.cols", file);
  if (node["best_over"]) report.best_over = string_list(node["best_over"], "report.best_over", file);
  if (node["mean_over"]) report.mean_over = string_list(node["mean_over"], "report.mean_over", file);
  if (node["value"]) report.value = scalar_string(node["value"], "report.value", file);
  return report;
}

namespace {

// Limits of a loaded document. Aliases let a short file describe a huge or cyclic graph (an alias
// inside the node it names; "billion laughs" chains); every walk below is bounded by these instead.
constexpr int kMaxDepth = 32;
constexpr int64_t kMaxNodes = 200000;  // far above any real experiment (the largest has ~500)

// Walks the loaded graph once, refusing cycles, merge keys, depth and size beyond the limits, each
// error naming the file, line and dotted key.
void check_document_shape(const YAML::Node& node, const std::string& path, const std::string& file,
                          std::vector<YAML::Node>& ancestors, int64_t& visited) {
  const std::string where = path.empty() ? "(document)" : path;
  if (++visited > kMaxNodes)
    throw ExperimentError(at(file, node), where,
                          fmt::format("the document expands to more than {} values (aliases repeated?)", kMaxNodes));
  if (static_cast<int>(ancestors.size()) >= kMaxDepth)
    throw ExperimentError(at(file, node), where, fmt::format("nested deeper than {} levels", kMaxDepth));
  for (const auto& a : ancestors)
    if (a.is(node)) throw ExperimentError(at(file, node), where, "a YAML alias refers to a node that contains it");
  if (!node.IsMap() && !node.IsSequence()) return;
  ancestors.push_back(node);
  if (node.IsMap()) {
    for (const auto& kv : node) {
      if (!kv.first.IsScalar())
        throw ExperimentError(at(file, kv.first), where, "a key must be a plain name, not a list, a map or an alias of one");
      const std::string key = kv.first.Scalar();
      if (key == "<<")
        throw ExperimentError(at(file, kv.first), path.empty() ? key : path + "." + key,
                              "YAML merge keys (<<) are not supported; write the keys out");
      check_document_shape(kv.second, path.empty() ? key : path + "." + key, file, ancestors, visited);
    }
  } else {
    // items of a list are reported under the list's key, as every other error about a list value is
    for (size_t i = 0; i < node.size(); ++i) check_document_shape(node[i], path, file, ancestors, visited);
  }
  ancestors.pop_back();
}

}  // namespace

Experiment parse_experiment(const std::string& text, const std::string& file) {
  YAML::Node loaded;
  try {
    loaded = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ExperimentError(Origin::from_file(file, e.mark.line), "", "malformed YAML: " + e.msg);
  }
  {
    std::vector<YAML::Node> ancestors;
    int64_t visited = 0;
    check_document_shape(loaded, "", file, ancestors, visited);
  }
  // const: operator[] on a non-const node may insert the key it looks up
  const YAML::Node root = loaded;
  Experiment ex;
  ex.file = file;
  ex.text = text;
  ex.seeds = SeedList{{0}, Origin::from_file(file, -1)};
  ex.base.set_fallback_origin(Origin::from_file(file, -1));
  if (!root.IsMap()) throw ExperimentError(Origin::from_file(file, root.Mark().line), "", "the file must be a YAML map of sections (task, model, train, ...)");
  check_keys(root, "", kTopLevelKeys, file);

  const std::string stem = std::filesystem::path(file).stem().string();
  ex.name = root["name"] ? scalar_string(root["name"], "name", file) : stem;
  if (ex.name.empty() || ex.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
                             std::string::npos || ex.name[0] == '.')
    throw ExperimentError(root["name"] ? at(file, root["name"]) : Origin::from_file(file, -1), "name",
                          fmt::format("'{}' must be a folder name (letters, digits, '_', '-', '.')", ex.name));
  if (root["description"]) ex.description = scalar_string(root["description"], "description", file);

  const ValueSource source{file, ""};
  for (const auto& section : kConfigSections) {
    const YAML::Node node = root[section];
    if (!node) continue;
    // `task: mqar` is shorthand for `task: {name: mqar}`
    if (section == "task" && node.IsScalar()) {
      ex.base.assign("task.name", node, source);
      continue;
    }
    if (!node.IsNull()) require_map(node, section, file);
    ex.base.assign(section, node, source);
  }
  ex.base.expand_name_shorthand("model.mixer");

  if (root["seed"] && root["seeds"])
    throw ExperimentError(at(file, root["seed"]), "seed", "give either `seed: N` or `seeds: [...]`, not both");
  if (root["seeds"]) ex.seeds = parse_seeds(root["seeds"], "seeds", file);
  if (root["seed"]) ex.seeds = parse_seeds(root["seed"], "seed", file);
  if (root["sweep"]) ex.sweep = parse_sweep(root["sweep"], "sweep", file);

  if (const auto profiles = root["profiles"]; profiles) {
    require_map(profiles, "profiles", file);
    for (const auto& kv : profiles) {
      Profile p;
      p.name = kv.first.as<std::string>();
      p.origin = at(file, kv.first);
      const std::string path = "profiles." + p.name;
      for (const auto& other : ex.profiles)
        if (other.name == p.name) throw ExperimentError(p.origin, path, "duplicate profile");
      const YAML::Node body = kv.second;
      if (!body.IsNull()) {
        require_map(body, path, file);
        check_keys(body, path, kProfileKeys, file);
        if (body["description"]) p.description = scalar_string(body["description"], path + ".description", file);
        if (body["set"] && !body["set"].IsNull()) p.sets = parse_assignments(body["set"], path + ".set", file);
        if (body["sweep"]) p.sweep = parse_sweep(body["sweep"], path + ".sweep", file);
        if (body["seeds"]) p.seeds = parse_seeds(body["seeds"], path + ".seeds", file);
      }
      ex.profiles.push_back(std::move(p));
    }
  }
  ex.report = parse_report(root["report"], file);
  return ex;
}

Experiment load_experiment(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ExperimentError(Origin::from_file(file.string(), -1), "", "cannot read the experiment file");
  std::stringstream text;
  text << in.rdbuf();
  return parse_experiment(text.str(), file.string());
}

}  // namespace db
