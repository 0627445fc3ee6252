// mixer_registry.cpp: the table of token mixers. Adding a mixer = one line here (see
// docs/adding-a-mixer.md); the generic tests pick it up from this table.
#include <fmt/format.h>

#include "models/core/registry.h"
#include "models/mixers/deltanet.h"
#include "models/mixers/deltaproduct.h"
#include "models/mixers/gated_deltanet.h"
#include "models/mixers/gated_linear_attention.h"
#include "models/mixers/linear_attention.h"
#include "models/mixers/softmax_attention.h"

namespace db {

const std::vector<const MixerEntry*>& mixer_registry() {
  static const std::vector<const MixerEntry*> table = {
      &softmax_attention_mixer_entry,
      &linear_attention_mixer_entry,
      &deltanet_mixer_entry,
      &gated_deltanet_mixer_entry,
      &deltaproduct_mixer_entry,
      &gated_linear_attention_mixer_entry,
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
