// gated_deltanet.cpp: Gated DeltaNet as a configuration of the delta-family layer.
#include "models/mixers/gated_deltanet.h"

namespace db {

DeltaFamilyMixer::Settings GatedDeltaNetMixer::defaults() {
  Settings s;
  s.forget_gate = true;
  s.output_gate = true;
  return s;
}

GatedDeltaNetMixer::GatedDeltaNetMixer(int d_model, const Options& options, ParamArena& arena)
    : DeltaFamilyMixer(d_model, settings_from(options, defaults()), arena) {}

const MixerEntry gated_deltanet_mixer_entry{
    "gated_deltanet",
    "Gated DeltaNet: delta rule with a scalar forget gate and an output gate",
    DeltaFamilyMixer::option_specs(GatedDeltaNetMixer::defaults(), /*expose_gate=*/true,
                                   /*expose_householder=*/false),
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<GatedDeltaNetMixer>(d_model, o, a);
    },
    {
        {{"chunk_size", int64_t{16}}, {"eigen_range", std::vector<double>{-1, 1}}},
        {{"chunk_size", int64_t{16}}, {"expand_v", 2.0}},
    },
    /*has_recurrent_mode=*/true,
};

}  // namespace db
