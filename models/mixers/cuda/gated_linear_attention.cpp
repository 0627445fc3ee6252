// gated_linear_attention.cpp (cuda): the CUDA half of gated linear attention: the CPU mixer's settings on the GPU
// projected-recurrence layer with the additive (linear-attention) kernel.
#include "models/mixers/gated_linear_attention.h"
#include "models/mixers/cuda/gpu_recurrences.h"

namespace db::cuda {

extern const GpuMixerEntry gated_linear_attention_gpu_mixer_entry = projected_recurrence_gpu_entry<GatedLinearAttentionMixer, GpuAdditiveRecurrenceLayer>("gated_linear_attention");

}  // namespace db::cuda
