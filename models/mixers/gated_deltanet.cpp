// gated_deltanet.cpp: Gated DeltaNet as a declaration of the projected-recurrence layer (see gated_deltanet.h).
#include "models/mixers/gated_deltanet.h"

namespace db {

ProjectedRecurrenceLayer::Declaration GatedDeltaNetMixer::declaration() {
  Declaration d;
  d.groups = {OptionGroup::kWriteStrength, OptionGroup::kKernelChoice, OptionGroup::kForgetGate};
  d.settings.forget_gate = true;
  d.settings.output_gate = true;
  return d;
}

GatedDeltaNetMixer::GatedDeltaNetMixer(int d_model, const Options& options, ParamArena& arena)
    : ProjectedRecurrenceLayer(d_model, settings_from(options, declaration()), arena) {}

const MixerEntry gated_deltanet_mixer_entry{
    "gated_deltanet",
    "Gated DeltaNet: delta rule with a scalar forget gate and an output gate",
    ProjectedRecurrenceLayer::option_specs(GatedDeltaNetMixer::declaration()),
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<GatedDeltaNetMixer>(d_model, o, a);
    },
    {
        {{"chunk_size", int64_t{16}}, {"eigen_range", std::vector<double>{-1, 1}}},
        {{"chunk_size", int64_t{16}}, {"expand_v", 2.0}},
    },
};

}  // namespace db
