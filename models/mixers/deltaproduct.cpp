// deltaproduct.cpp: DeltaProduct as a declaration of the projected-recurrence layer (see deltaproduct.h).
#include "models/mixers/deltaproduct.h"

namespace db {

ProjectedRecurrenceLayer::Declaration DeltaProductMixer::declaration() {
  Declaration d;
  d.groups = {OptionGroup::kWriteStrength, OptionGroup::kKernelChoice, OptionGroup::kForgetGate,
              OptionGroup::kHouseholder};
  d.settings.householder = 2;
  d.settings.negative_eigen = true;
  d.settings.output_gate = true;
  return d;
}

DeltaProductMixer::DeltaProductMixer(int d_model, const Options& options, ParamArena& arena)
    : ProjectedRecurrenceLayer(d_model, settings_from(options, declaration()), arena) {}

const MixerEntry deltaproduct_mixer_entry{
    "deltaproduct",
    "DeltaProduct: n_h Householder delta steps per token (householder), optional forget gate",
    ProjectedRecurrenceLayer::option_specs(DeltaProductMixer::declaration()),
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<DeltaProductMixer>(d_model, o, a);
    },
    {
        {{"chunk_size", int64_t{16}}},
        {{"chunk_size", int64_t{16}}, {"householder", int64_t{3}}, {"use_forget_gate", true}},
        {{"chunk_size", int64_t{16}}, {"eigen_range", std::vector<double>{0, 1}}, {"use_output_gate", false}},
    },
};

}  // namespace db
