// expansion.cpp: profile/sweep/--set layering and run expansion (see expansion.h).
#include "harness/sweep/expansion.h"

#include <fmt/format.h>

#include <set>

#include "common/options.h"
#include "harness/config/resolver.h"
#include "harness/config/yaml_values.h"

namespace db {

namespace {

using Point = std::vector<Assignment>;

void apply(ConfigTree& tree, const Assignment& a) {
  // a single mixer and a list of mixers exclude each other: setting one replaces the other
  if (key_is_at_or_below(a.key, "model.mixers")) tree.erase("model.mixer");
  if (key_is_at_or_below(a.key, "model.mixer") || a.key == "model") tree.erase("model.mixers");
  tree.assign(a.key, a.value, a.source, a.origin.line - 1);
  tree.expand_name_shorthand("task");
  tree.expand_name_shorthand("model.mixer");
}

Assignment axis_value(const SweepAxis& axis, size_t i, const std::string& file) {
  return Assignment{axis.key, axis.values[i], ValueSource{file, ""}, axis.value_origins[i]};
}

// all combinations of the grid axes, first axis slowest
std::vector<Point> grid_points(const std::vector<SweepAxis>& grid, const std::string& file) {
  std::vector<Point> points{{}};
  for (const auto& axis : grid) {
    std::vector<Point> next;
    for (const auto& p : points)
      for (size_t i = 0; i < axis.values.size(); ++i) {
        Point q = p;
        q.push_back(axis_value(axis, i, file));
        next.push_back(std::move(q));
      }
    points = std::move(next);
  }
  return points;
}

std::vector<Point> zip_points(const std::vector<ZipGroup>& groups, const std::string& file) {
  std::vector<Point> points{{}};
  for (const auto& group : groups) {
    std::vector<Point> next;
    for (const auto& p : points)
      for (size_t i = 0; i < group.length(); ++i) {
        Point q = p;
        for (const auto& axis : group.axes) q.push_back(axis_value(axis, i, file));
        next.push_back(std::move(q));
      }
    points = std::move(next);
  }
  return points;
}

std::vector<uint64_t> parse_seed_override(const Assignment& a) {
  std::vector<uint64_t> seeds;
  auto one = [&](const YAML::Node& n) {
    OptionValue v = n.IsScalar() ? parse_option_value(n.Scalar()) : OptionValue(std::string("?"));
    const auto* i = std::get_if<int64_t>(&v);
    if (!i || *i < 0) throw ExperimentError(a.origin, a.key, "seeds must be non-negative integers");
    seeds.push_back(static_cast<uint64_t>(*i));
  };
  if (a.value.IsSequence()) for (const auto& n : a.value) one(n);
  else one(a.value);
  if (seeds.empty()) throw ExperimentError(a.origin, a.key, "no seeds: the sweep would expand to nothing");
  return seeds;
}

std::string slug_value(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '[' || c == ']' || c == ' ') continue;
    out += c == ',' ? '_' : c;
  }
  return out;
}

std::string filesystem_safe(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-' || c == '+' || c == '=';
    out += ok ? c : '_';
  }
  return out;
}

bool is_mixer_name_key(const std::string& key) {
  return key == "model.mixer.name" || (key.rfind("model.mixers.", 0) == 0 && key.size() > 5 &&
                                       key.compare(key.size() - 5, 5, ".name") == 0 &&
                                       key.find('.', 13) == key.size() - 5);
}

}  // namespace

Assignment parse_set_override(const std::string& text) {
  const Origin origin = Origin::from_cli("--set " + text);
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) throw ExperimentError(origin, "", "expected key=value, e.g. --set train.lr=1e-3");
  std::string key = text.substr(0, eq);
  while (!key.empty() && key.back() == ' ') key.pop_back();
  if (key != "seed" && key != "seeds") check_config_key(key, origin);
  YAML::Node value;
  try {
    value = YAML::Load(text.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw ExperimentError(origin, key, "malformed value: " + e.msg);
  }
  return Assignment{key, value, ValueSource{"", origin.override}, origin};
}

SweepSpec merge_sweeps(const SweepSpec& base, const SweepSpec& over) {
  SweepSpec out = base;
  // a key the profile sweeps leaves the base's axes wherever it was (grid axis or zip member), so
  // a profile can move a key from the grid into a zip group and back
  auto drop_from_zip = [&](const std::string& key) {
    for (auto& group : out.zip)
      std::erase_if(group.axes, [&](const SweepAxis& a) { return a.key == key; });
    std::erase_if(out.zip, [](const ZipGroup& g) { return g.axes.empty(); });
  };
  for (const auto& axis : over.grid) {
    drop_from_zip(axis.key);
    auto it = std::find_if(out.grid.begin(), out.grid.end(), [&](const SweepAxis& a) { return a.key == axis.key; });
    if (it != out.grid.end()) *it = axis;
    else out.grid.push_back(axis);
  }
  for (const auto& group : over.zip) {
    auto in_group = [&](const std::string& key) {
      return std::any_of(group.axes.begin(), group.axes.end(), [&](const SweepAxis& a) { return a.key == key; });
    };
    auto shares_key = [&](const ZipGroup& g) {
      return std::any_of(g.axes.begin(), g.axes.end(), [&](const SweepAxis& a) { return in_group(a.key); });
    };
    std::erase_if(out.grid, [&](const SweepAxis& a) { return in_group(a.key); });
    auto it = std::find_if(out.zip.begin(), out.zip.end(), shares_key);
    if (it != out.zip.end()) {
      *it = group;
      out.zip.erase(std::remove_if(std::next(it), out.zip.end(), shares_key), out.zip.end());
    } else {
      out.zip.push_back(group);
    }
  }
  if (over.changes) {
    out.changes = over.changes;
    out.changes_origin = over.changes_origin;
  }
  return out;
}

std::string make_slug(const ResolvedConfig& config, const std::vector<std::string>& varying_keys) {
  std::string mixers;
  for (const auto& m : config.mixers) mixers += (mixers.empty() ? "" : "+") + m.name;
  std::vector<std::string> parts{mixers};
  for (const auto& key : varying_keys) {
    if (key == "seed" || is_mixer_name_key(key)) continue;
    auto it = std::find_if(config.flat.begin(), config.flat.end(), [&](const auto& kv) { return kv.first == key; });
    if (it == config.flat.end()) continue;
    parts.push_back(key.substr(key.rfind('.') + 1) + slug_value(it->second));
  }
  parts.push_back(fmt::format("s{}", config.seed));
  std::string slug;
  for (const auto& p : parts) slug += (slug.empty() ? "" : "-") + p;
  slug = filesystem_safe(slug);
  if (slug.size() > 80) slug.resize(80);
  return slug;
}

Expansion expand_experiment(const Experiment& ex, const ExpandOptions& options, const ComponentCatalog& catalog) {
  check_values_alone(ex.base, catalog);
  ConfigTree base = ex.base;
  SweepSpec sweep = ex.sweep;
  SeedList seeds = ex.seeds;

  if (!options.profile.empty()) {
    auto it = std::find_if(ex.profiles.begin(), ex.profiles.end(), [&](const Profile& p) { return p.name == options.profile; });
    if (it == ex.profiles.end()) {
      std::vector<std::string> names;
      for (const auto& p : ex.profiles) names.push_back(p.name);
      throw ExperimentError(Origin::from_cli("--profile " + options.profile), "",
                            fmt::format("{} has no profile '{}'{}", ex.file, options.profile,
                                        names.empty() ? " (it has no profiles)" : suggestion(options.profile, names)));
    }
    for (const auto& a : it->sets) apply(base, a);
    sweep = merge_sweeps(sweep, it->sweep);
    if (it->seeds) seeds = *it->seeds;
  }

  std::vector<Assignment> cli_sets;
  for (const auto& text : options.sets) {
    Assignment a = parse_set_override(text);
    if (a.key == "seed" || a.key == "seeds") seeds = SeedList{parse_seed_override(a), a.origin};
    else cli_sets.push_back(std::move(a));
  }

  // count before building: a grid of a few long axes multiplies into more runs than memory holds
  {
    constexpr uint64_t kMaxRuns = 100000;
    uint64_t runs = std::max<uint64_t>(1, seeds.seeds.size());
    auto times = [&](uint64_t n) {
      if (__builtin_mul_overflow(runs, std::max<uint64_t>(n, 1), &runs)) runs = UINT64_MAX;
    };
    if (sweep.changes) times(sweep.changes->size() + 1);
    for (const auto& axis : sweep.grid) times(axis.values.size());
    for (const auto& group : sweep.zip) times(group.length());
    if (runs > kMaxRuns)
      throw ExperimentError(Origin::from_file(ex.file, -1), "sweep",
                            fmt::format("the sweep expands to more than {} runs; split it into several experiments", kMaxRuns));
  }

  std::vector<Point> changes{{}};
  if (sweep.changes)
    for (const auto& c : *sweep.changes) changes.push_back(c.sets);
  const std::vector<Point> grid = grid_points(sweep.grid, ex.file);
  const std::vector<Point> zips = zip_points(sweep.zip, ex.file);

  Expansion out;
  out.experiment = ex.name;
  std::set<std::string> seen_hashes;
  for (const auto& change : changes)
    for (const auto& g : grid)
      for (const auto& z : zips) {
        ConfigTree tree = base;
        for (const auto* point : {&change, &g, &z})
          for (const auto& a : *point) apply(tree, a);
        for (const auto& a : cli_sets) apply(tree, a);
        for (uint64_t seed : seeds.seeds) {
          ResolvedConfig run = resolve_run(tree, seed, ex.name, catalog);
          if (!seen_hashes.insert(run.hash).second) {
            ++out.duplicates_dropped;
            continue;
          }
          out.runs.push_back(std::move(run));
        }
      }
  if (out.runs.empty()) throw ExperimentError(Origin::from_file(ex.file, -1), "sweep", "the sweep expands to nothing");

  // a key varies when the runs that have it disagree on its value; a key only some runs have (a
  // mixer option of one mixer in a mixer sweep) with one value is a default, not a sweep axis
  std::map<std::string, std::set<std::string>> values;
  for (const auto& run : out.runs)
    for (const auto& [k, v] : run.flat) values[k].insert(v);
  for (const auto& [k, vs] : values)
    if (vs.size() > 1) out.varying_keys.push_back(k);
  for (auto& run : out.runs) run.slug = make_slug(run, out.varying_keys);
  return out;
}

}  // namespace db
