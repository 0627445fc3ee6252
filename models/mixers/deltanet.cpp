// deltanet.cpp: DeltaNet as a configuration of the delta-family layer (see deltanet.h).
#include "models/mixers/deltanet.h"

namespace db {

DeltaFamilyMixer::Settings DeltaNetMixer::defaults() { return Settings{}; }

DeltaNetMixer::DeltaNetMixer(int d_model, const Options& options, ParamArena& arena)
    : DeltaFamilyMixer(d_model, settings_from(options, defaults()), arena) {}

const MixerEntry deltanet_mixer_entry{
    "deltanet",
    "DeltaNet: delta-rule update with L2-normalised keys; eigen_range [0,1] or [-1,1]",
    DeltaFamilyMixer::option_specs(DeltaNetMixer::defaults(), /*expose_gate=*/false, /*expose_householder=*/false),
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<DeltaNetMixer>(d_model, o, a);
    },
    {
        {{"chunk_size", int64_t{16}}},
        {{"chunk_size", int64_t{16}}, {"eigen_range", std::vector<double>{-1, 1}}},
        {{"mode", std::string("recurrent")}, {"use_short_conv", false}, {"num_heads", int64_t{1}}},
    },
    /*has_recurrent_mode=*/true,
};

}  // namespace db
