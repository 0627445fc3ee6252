// mixer_registry.cpp: the table of token mixers. Adding a mixer = one line here (see
// docs/adding-a-mixer.md); the generic tests pick it up from this table.
#include <fmt/format.h>

#include "common/registry_entry.h"
#include "models/core/registry.h"

namespace db {

// DELTABENCH_MIXER(x) is &x_mixer_entry, the entry models/mixers/x.cpp defines (common/registry_entry.h)
#define DELTABENCH_MIXER(name) DELTABENCH_ENTRY(MixerEntry, name##_mixer_entry)

const std::vector<const MixerEntry*>& mixer_registry() {
  static const std::vector<const MixerEntry*> table = {
      DELTABENCH_MIXER(softmax_attention),
      DELTABENCH_MIXER(linear_attention),
      DELTABENCH_MIXER(deltanet),
      DELTABENCH_MIXER(gated_deltanet),
      DELTABENCH_MIXER(deltaproduct),
      DELTABENCH_MIXER(gated_linear_attention),
      DELTABENCH_MIXER(gla),
      DELTABENCH_MIXER(retnet),
      DELTABENCH_MIXER(based),
      DELTABENCH_MIXER(mamba),
      DELTABENCH_MIXER(rwkv4),
      DELTABENCH_MIXER(mlstm),
      DELTABENCH_MIXER(slstm),
      DELTABENCH_MIXER(base_conv),
      DELTABENCH_MIXER(hyena),
      DELTABENCH_MIXER(h3),
      DELTABENCH_MIXER(mh_hyena),
  };
  return table;
}

#undef DELTABENCH_MIXER

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
    throw ConfigError("name", fmt::format("unknown mixer '{}'{}", name, suggestion(name, names)));
  }
  return entry->create(d_model, Options::resolve(entry->options, overrides), arena);
}

}  // namespace db
