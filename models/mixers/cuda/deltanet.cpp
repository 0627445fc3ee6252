// deltanet.cpp (cuda): the CUDA half of DeltaNet: the CPU mixer's settings on the GPU
// projected-recurrence layer with the gated delta rule.
#include "models/mixers/deltanet.h"
#include "models/mixers/cuda/gpu_recurrences.h"

namespace db::cuda {

extern const GpuMixerEntry deltanet_gpu_mixer_entry = projected_recurrence_gpu_entry<DeltaNetMixer, GpuDeltaRuleLayer>("deltanet");

}  // namespace db::cuda
