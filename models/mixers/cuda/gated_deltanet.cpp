// gated_deltanet.cpp (cuda): the CUDA half of Gated DeltaNet: the CPU mixer's settings on the GPU
// projected-recurrence layer with the gated delta rule.
#include "models/mixers/gated_deltanet.h"
#include "models/mixers/cuda/gpu_recurrences.h"

namespace db::cuda {

extern const GpuMixerEntry gated_deltanet_gpu_mixer_entry = projected_recurrence_gpu_entry<GatedDeltaNetMixer, GpuDeltaRuleLayer>("gated_deltanet");

}  // namespace db::cuda
