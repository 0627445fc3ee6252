// linear_attention.cpp (cuda): the CUDA half of linear attention: the CPU mixer's settings on the GPU
// projected-recurrence layer with the additive (linear-attention) kernel.
#include "models/mixers/linear_attention.h"
#include "models/mixers/cuda/gpu_recurrences.h"

namespace db::cuda {

extern const GpuMixerEntry linear_attention_gpu_mixer_entry{
    "linear_attention",
    [](const Context& ctx, int d_model, const Options& options, const ParamScope& params) -> std::unique_ptr<GpuModule> {
      const auto settings = ProjectedRecurrenceLayer::settings_from(options, LinearAttentionMixer::declaration());
      return std::make_unique<GpuAdditiveRecurrenceLayer>(ctx, d_model, settings, params);
    },
};

}  // namespace db::cuda
