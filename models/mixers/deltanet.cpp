// deltanet.cpp: DeltaNet as a declaration of the projected-recurrence layer (see deltanet.h).
#include "models/mixers/deltanet.h"

namespace db {

ProjectedRecurrenceLayer::Declaration DeltaNetMixer::declaration() {
  Declaration d;
  d.groups = {OptionGroup::kWriteStrength, OptionGroup::kKernelChoice};
  return d;
}

DeltaNetMixer::DeltaNetMixer(int d_model, const Options& options, ParamArena& arena)
    : ProjectedRecurrenceLayer(d_model, settings_from(options, declaration()), arena) {}

const MixerEntry deltanet_mixer_entry{
    "deltanet",
    "DeltaNet: delta-rule update with L2-normalised keys; eigen_range [0,1] or [-1,1]",
    ProjectedRecurrenceLayer::option_specs(DeltaNetMixer::declaration()),
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<DeltaNetMixer>(d_model, o, a);
    },
    {
        {{"chunk_size", int64_t{16}}},
        {{"chunk_size", int64_t{16}}, {"eigen_range", std::vector<double>{-1, 1}}},
        {{"mode", std::string("recurrent")}, {"use_short_conv", false}, {"num_heads", int64_t{1}}},
    },
};

}  // namespace db
