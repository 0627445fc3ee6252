// mixer_registry.cpp: the table of token mixers. Adding a mixer = one line here (see
// docs/adding-a-mixer.md); the generic tests pick it up from this table.
#include <fmt/format.h>

#include "models/core/registry.h"

namespace db {

const std::vector<const MixerEntry*>& mixer_registry() {
  static const std::vector<const MixerEntry*> table = {
  };
  return table;
}

const MixerEntry* find_mixer(const std::string& name) {
  for (const auto* e : mixer_registry())
    if (e->name == name) return e;
  return nullptr;
}

std::unique_ptr<Mixer> create_mixer(const std::string& name, int d_model, const OptionOverrides& overrides,
                                    ParamArena& arena) {
  const MixerEntry* entry = find_mixer(name);
  if (!entry) {
    std::vector<std::string> names;
    for (const auto* e : mixer_registry()) names.push_back(e->name);
    const std::string hint = closest_match(name, names);
    throw ConfigError("name", hint.empty() ? fmt::format("unknown mixer '{}'", name)
                                           : fmt::format("unknown mixer '{}' (did you mean '{}'?)", name, hint));
  }
  return entry->create(d_model, Options::resolve(entry->options, overrides), arena);
}

}  // namespace db
