// deltaproduct.cpp (cuda): the CUDA half of DeltaProduct: the CPU mixer's settings on the GPU
// projected-recurrence layer with the gated delta rule.
#include "models/mixers/deltaproduct.h"
#include "models/mixers/cuda/gpu_recurrences.h"

namespace db::cuda {

extern const GpuMixerEntry deltaproduct_gpu_mixer_entry{
    "deltaproduct",
    [](const Context& ctx, int d_model, const Options& options, const ParamScope& params) -> std::unique_ptr<GpuModule> {
      const auto settings = ProjectedRecurrenceLayer::settings_from(options, DeltaProductMixer::declaration());
      return std::make_unique<GpuDeltaRuleLayer>(ctx, d_model, settings, params);
    },
};

}  // namespace db::cuda
