// registry.h: the one table of token mixers and the one table of layer modules.
//
// Each mixer's .cpp defines a `const MixerEntry <name>_mixer_entry`; models/core/mixer_registry.cpp
// lists them, one line each (common/registry_entry.h; a table in one file rather than static
// self-registration, which a static library would silently drop). Generic tests iterate these tables: every entry is gradient-checked
// on each of its test_variants, and an entry with no variants fails the suite. Layer modules are
// listed the same way in module_registry() so the gradient checker covers them too.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/options.h"
#include "models/core/module.h"
#include "models/core/params.h"

namespace db {

using OptionOverrides = std::map<std::string, OptionValue>;

// one mixer choice in a model: its registry name and the user's model.mixer.<key> values
struct MixerSpec {
  std::string name;          // registry name, e.g. "deltanet"
  OptionOverrides options;   // validated against the entry's option specs when the mixer is built
};

struct MixerEntry {
  std::string name;         // YAML value of model.mixer.name, e.g. "deltanet"
  std::string description;  // one line for `deltabench list`
  OptionSpecs options;      // the mixer's own keys (model.mixer.<key>)
  // build a mixer of width d_model; parameters are declared in `arena` under its current scope
  std::function<std::unique_ptr<Mixer>(int d_model, const Options& options, ParamArena& arena)> create;
  // small configurations the generic tests run (gradient check, chunk vs recurrent, overfit);
  // must not be empty
  std::vector<OptionOverrides> test_variants;
  // true when the mixer has a chunkwise and a recurrent path, which is what declaring the "mode"
  // option (values "chunk" and "recurrent") means
  bool has_recurrent_mode() const {
    return std::any_of(options.begin(), options.end(), [](const OptionSpec& s) { return s.key == "mode"; });
  }
};

struct ModuleEntry {
  std::string name;         // e.g. "rmsnorm"
  std::string description;
  // a small instance for tests, parameters declared in `arena`
  std::function<std::unique_ptr<Module>(ParamArena& arena)> create_for_test;
};

const std::vector<const MixerEntry*>& mixer_registry();
const std::vector<const ModuleEntry*>& module_registry();
// nullptr when unknown
const MixerEntry* find_mixer(const std::string& name);

// build a mixer from its name and user overrides (throws ConfigError for unknown names or keys)
std::unique_ptr<Mixer> create_mixer(const std::string& name, int d_model, const OptionOverrides& overrides,
                                    ParamArena& arena);

}  // namespace db
