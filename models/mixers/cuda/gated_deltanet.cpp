// gated_deltanet.cpp (cuda): the CUDA half of Gated DeltaNet: the CPU mixer's settings on the GPU
// projected-recurrence layer with the gated delta rule.
#include "models/mixers/gated_deltanet.h"
#include "models/mixers/cuda/gpu_recurrences.h"

namespace db::cuda {

extern const GpuMixerEntry gated_deltanet_gpu_mixer_entry{
    "gated_deltanet",
    [](const Context& ctx, int d_model, const Options& options, const ParamScope& params) -> std::unique_ptr<GpuModule> {
      const auto settings = ProjectedRecurrenceLayer::settings_from(options, GatedDeltaNetMixer::declaration());
      return std::make_unique<GpuDeltaRuleLayer>(ctx, d_model, settings, params);
    },
};

}  // namespace db::cuda
