// resolver.cpp: validation and canonical form of one run (see resolver.h).
#include "harness/config/resolver.h"

#include <fmt/format.h>

#include <set>

#include "common/rng.h"
#include "harness/config/config_checks.h"
#include "harness/config/config_schema.h"
#include "harness/config/yaml_values.h"
#include "harness/train/device_support.h"
#include "models/core/params.h"

namespace db {

namespace {

// Options::resolve words its type errors as "'lr' must be a float ..."; the key is printed
// separately (with its section), so drop the repetition
std::string without_key_prefix(const std::string& message, const std::string& key) {
  const std::string prefix = "'" + key + "' ";
  return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& known, const std::string& what) {
  return fmt::format("unknown {} '{}'{}", what, word, known.empty() ? " (none registered)" : suggestion(word, known));
}

// the values under `section` (skipping `skip` subkeys), checked against `specs` and filled with defaults
Options resolve_section(const ConfigTree& tree, const std::string& section, const OptionSpecs& specs,
                        const std::set<std::string>& skip) {
  std::vector<std::string> names;
  for (const auto& s : specs) names.push_back(s.key);
  std::map<std::string, OptionValue> given;
  for (const auto& [key, leaf] : tree.below(section)) {
    const std::string head = key.substr(0, key.find('.'));
    if (skip.count(head)) continue;
    const std::string dotted = section + "." + key;
    if (std::find(names.begin(), names.end(), head) == names.end()) {
      std::vector<std::string> dotted_names;
      for (const auto& n : names) dotted_names.push_back(section + "." + n);
      throw ExperimentError(leaf->origin, dotted, "unknown key" + suggestion(section + "." + head, dotted_names));
    }
    if (head != key) throw ExperimentError(tree.origin_of(section + "." + head), section + "." + head, "expected a value, got a map");
    given[key] = yaml_to_option_value(leaf->value, leaf->origin, dotted);
  }
  try {
    return Options::resolve(specs, given);
  } catch (const ConfigError& e) {
    throw ExperimentError(tree.origin_of(section + "." + e.key), section + "." + e.key, without_key_prefix(e.what(), e.key));
  }
}

// run a cross-field or range check, translating its ConfigError to this tree's origins
template <class Check>
void run_check(const ConfigTree& tree, const std::string& section, Check&& check) {
  try {
    check();
  } catch (const ConfigError& e) {
    const std::string key = e.key.empty() ? section : section + "." + e.key;
    throw ExperimentError(tree.origin_of(key), key, without_key_prefix(e.what(), e.key));
  }
}

std::string name_at(const ConfigTree& tree, const std::string& key) {
  const ConfigLeaf* leaf = tree.find(key);
  if (!leaf) return "";
  const OptionValue v = yaml_to_option_value(leaf->value, leaf->origin, key);
  if (!std::holds_alternative<std::string>(v)) throw ExperimentError(leaf->origin, key, "must be a name (a string)");
  return std::get<std::string>(v);
}

MixerSpec resolve_mixer(const ConfigTree& tree, const std::string& prefix, const std::string& name,
                        const ComponentCatalog& catalog) {
  if (name.empty())
    throw ExperimentError(tree.origin_of(prefix), prefix + ".name",
                          "missing: say which mixer, e.g. {name: deltanet} (see `deltabench list`)");
  const MixerEntry* mixer = catalog.find_mixer(name);
  if (!mixer) throw ExperimentError(tree.origin_of(prefix + ".name"), prefix + ".name", did_you_mean(name, catalog.mixer_names(), "mixer"));
  const Options options = resolve_section(tree, prefix, mixer->options, {"name"});
  return MixerSpec{name, options.values()};
}

// whether the tree gives `key` at all, as a value or as a section
bool gives(const ConfigTree& tree, const std::string& key) { return tree.find(key) || tree.has_below(key); }

// the registered task that task.name names; throws at that line when there is none
const TaskEntry& task_entry(const ConfigTree& tree, const std::string& name, const ComponentCatalog& catalog) {
  const TaskEntry* task = catalog.find_task(name);
  if (!task) throw ExperimentError(tree.origin_of("task.name"), "task.name", did_you_mean(name, catalog.task_names(), "task"));
  return *task;
}

std::vector<MixerSpec> resolve_mixers(const ConfigTree& tree, const ComponentCatalog& catalog) {
  const bool single = gives(tree, "model.mixer");
  const bool list = gives(tree, "model.mixers");
  if (single && list)
    throw ExperimentError(tree.origin_of("model.mixers"), "model.mixers", "give either model.mixer or model.mixers, not both");
  if (!single && !list)
    throw ExperimentError(tree.origin_of("model"), "model.mixer", "missing: say which mixer, e.g. mixer: {name: deltanet}");
  if (single) {
    // `mixer: deltanet` is shorthand for `mixer: {name: deltanet}`
    const std::string name = tree.find("model.mixer") ? name_at(tree, "model.mixer") : name_at(tree, "model.mixer.name");
    return {resolve_mixer(tree, "model.mixer", name, catalog)};
  }
  std::vector<MixerSpec> mixers;
  if (const ConfigLeaf* leaf = tree.find("model.mixers")) {
    // `mixers: [deltanet, softmax_attention]`: names only
    if (!leaf->value.IsSequence() || leaf->value.size() == 0)
      throw ExperimentError(leaf->origin, "model.mixers", "must be a non-empty list of mixers ({name: ...} or names)");
    for (size_t i = 0; i < leaf->value.size(); ++i) {
      const YAML::Node item = leaf->value[i];
      if (!item.IsScalar()) throw ExperimentError(leaf->origin, fmt::format("model.mixers.{}", i), "must be a mixer name or {name: ...}");
      mixers.push_back(resolve_mixer(tree, fmt::format("model.mixers.{}", i), item.Scalar(), catalog));
    }
    return mixers;
  }
  for (size_t i = 0;; ++i) {
    const std::string prefix = fmt::format("model.mixers.{}", i);
    if (!tree.has_below(prefix)) break;
    mixers.push_back(resolve_mixer(tree, prefix, name_at(tree, prefix + ".name"), catalog));
  }
  // keys like model.mixers.5.window with no mixers 0..4 would otherwise be silently ignored
  for (const auto& [key, leaf] : tree.below("model.mixers")) {
    const std::string index = key.substr(0, key.find('.'));
    if (index.find_first_not_of("0123456789") != std::string::npos || std::stoul(index) >= mixers.size())
      throw ExperimentError(leaf->origin, "model.mixers." + key, fmt::format("no such mixer in the list of {}", mixers.size()));
  }
  return mixers;
}

void add_flat(std::map<std::string, std::string>& flat, const std::string& prefix,
              const std::map<std::string, OptionValue>& values) {
  for (const auto& [k, v] : values) flat[prefix + k] = value_text(v);
}

void emit_values(std::string& out, const std::map<std::string, OptionValue>& values, const std::string& indent) {
  for (const auto& [k, v] : values) out += fmt::format("{}{}: {}\n", indent, k, yaml_value_text(v));
}

}  // namespace

void check_values_alone(const ConfigTree& tree, const ComponentCatalog& catalog) {
  const std::string task_name = name_at(tree, "task.name");
  if (!task_name.empty()) resolve_section(tree, "task", task_entry(tree, task_name, catalog).options, {"name"});
  const Options model = resolve_section(tree, "model", model_option_specs(), {"mixer", "mixers"});
  run_check(tree, "model", [&] { check_model_values(model); });
  if (gives(tree, "model.mixer") || gives(tree, "model.mixers")) resolve_mixers(tree, catalog);
  const Options train = resolve_section(tree, "train", train_option_specs(), {});
  run_check(tree, "train", [&] { check_train_values(train); });
}

std::string canonical_yaml(const ResolvedConfig& c) {
  std::string out = "task:\n";
  out += fmt::format("  name: {}\n", yaml_value_text(c.task_name));
  emit_values(out, c.task, "  ");
  out += "model:\n";
  emit_values(out, c.model.values(), "  ");
  if (c.mixers.size() == 1) {
    out += "  mixer:\n";
    out += fmt::format("    name: {}\n", yaml_value_text(c.mixers[0].name));
    emit_values(out, c.mixers[0].options, "    ");
  } else {
    out += "  mixers:\n";
    for (const auto& m : c.mixers) {
      out += fmt::format("    - name: {}\n", yaml_value_text(m.name));
      emit_values(out, m.options, "      ");
    }
  }
  out += "train:\n";
  // train.threads decides only how fast a run goes, never its bits (models/numerics/parallel.h), so it is
  // no part of a run's identity: the same run on a laptop and on a 64-core node has one folder
  auto train = c.train.values();
  train.erase("threads");
  // the default device is left out so that adding the key kept every earlier run's identity; a GPU
  // run computes in another order than the CPU, so it is a run of its own
  if (c.train.get_string("device") == "cpu") train.erase("device");
  if (c.train.get_string("precision") == "fp32") train.erase("precision");  // likewise
  emit_values(out, train, "  ");
  out += fmt::format("seed: {}\n", c.seed);
  return out;
}

std::string config_hash(const std::string& text) {
  return fmt::format("{:012x}", fnv1a64(text) & 0xffffffffffffULL);
}

ResolvedConfig resolve_run(const ConfigTree& tree, uint64_t seed, const std::string& experiment,
                           const ComponentCatalog& catalog) {
  ResolvedConfig c;
  c.experiment = experiment;
  c.seed = seed;

  c.task_name = name_at(tree, "task.name");
  if (c.task_name.empty())
    throw ExperimentError(tree.origin_of("task"), "task.name", "missing: say which task, e.g. task: {name: mqar}");
  const TaskEntry* task = &task_entry(tree, c.task_name, catalog);
  const Options task_options = resolve_section(tree, "task", task->options, {"name"});
  // constructing the task runs its cross-field checks (e.g. 4 * num_kv_pairs <= seq_len)
  run_check(tree, "task", [&] {
    if (const auto built = task->create(task_options))
      for (Split split : {Split::train, Split::test}) check_examples_fit_in_memory(*built, split, built->split_size(split));
  });
  c.task = task_options.values();

  c.model = resolve_section(tree, "model", model_option_specs(), {"mixer", "mixers"});
  run_check(tree, "model", [&] { check_model_values(c.model); });
  if (!task->required_backbone.empty() && c.model.get_string("backbone") != task->required_backbone)
    throw ExperimentError(tree.origin_of("model.backbone"), "model.backbone",
                          fmt::format("task '{}' needs backbone '{}' (set model.backbone: {})", c.task_name,
                                      task->required_backbone, task->required_backbone));
  c.mixers = resolve_mixers(tree, catalog);
  // constructing each mixer runs its own checks (d_model divisible by num_heads, a chunk size it has)
  const bool mixer_list = gives(tree, "model.mixers");
  for (size_t i = 0; i < c.mixers.size(); ++i) {
    const MixerEntry* entry = catalog.find_mixer(c.mixers[i].name);
    if (!entry->create) continue;
    run_check(tree, mixer_list ? fmt::format("model.mixers.{}", i) : "model.mixer", [&] {
      ParamArena arena;
      (void)entry->create(static_cast<int>(c.model.get_int("d_model")), Options::resolve(entry->options, c.mixers[i].options), arena);
    });
  }
  c.train = resolve_section(tree, "train", train_option_specs(), {});
  run_check(tree, "train", [&] { check_train_values(c.train); });
  if (c.train.get_string("device") == "cuda") {
    run_check(tree, "train", [] { require_cuda_build(); });
    for (size_t i = 0; i < c.mixers.size(); ++i)
      run_check(tree, mixer_list ? fmt::format("model.mixers.{}", i) : "model.mixer",
                [&] { require_gpu_mixer(c.mixers[i].name, c.mixers[i].options); });
  }

  std::map<std::string, std::string> flat;
  flat["task.name"] = c.task_name;
  add_flat(flat, "task.", c.task);
  add_flat(flat, "model.", c.model.values());
  if (c.mixers.size() == 1) {
    flat["model.mixer.name"] = c.mixers[0].name;
    add_flat(flat, "model.mixer.", c.mixers[0].options);
  } else {
    for (size_t i = 0; i < c.mixers.size(); ++i) {
      const std::string prefix = fmt::format("model.mixers.{}.", i);
      flat[prefix + "name"] = c.mixers[i].name;
      add_flat(flat, prefix, c.mixers[i].options);
    }
  }
  add_flat(flat, "train.", c.train.values());
  flat["seed"] = std::to_string(seed);
  c.flat.assign(flat.begin(), flat.end());

  c.yaml = canonical_yaml(c);
  c.hash = config_hash(c.yaml);
  return c;
}

}  // namespace db
