// deltaproduct.cpp: DeltaProduct as a configuration of the delta-family layer.
#include "models/mixers/deltaproduct.h"

namespace db {

DeltaFamilyMixer::Settings DeltaProductMixer::defaults() {
  Settings s;
  s.householder = 2;
  s.negative_eigen = true;
  s.output_gate = true;
  return s;
}

DeltaProductMixer::DeltaProductMixer(int d_model, const Options& options, ParamArena& arena)
    : DeltaFamilyMixer(d_model, settings_from(options, defaults()), arena) {}

const MixerEntry deltaproduct_mixer_entry{
    "deltaproduct",
    "DeltaProduct: n_h Householder delta steps per token (householder), optional forget gate",
    DeltaFamilyMixer::option_specs(DeltaProductMixer::defaults(), /*expose_gate=*/true, /*expose_householder=*/true),
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<DeltaProductMixer>(d_model, o, a);
    },
    {
        {{"chunk_size", int64_t{16}}},
        {{"chunk_size", int64_t{16}}, {"householder", int64_t{3}}, {"use_forget_gate", true}},
        {{"chunk_size", int64_t{16}}, {"eigen_range", std::vector<double>{0, 1}}, {"use_output_gate", false}},
    },
    /*has_recurrent_mode=*/true,
};

}  // namespace db
