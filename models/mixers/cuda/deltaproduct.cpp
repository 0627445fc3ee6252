// deltaproduct.cpp (cuda): the CUDA half of DeltaProduct: the CPU mixer's settings on the GPU
// projected-recurrence layer with the gated delta rule.
#include "models/mixers/deltaproduct.h"
#include "models/mixers/cuda/gpu_recurrences.h"

namespace db::cuda {

extern const GpuMixerEntry deltaproduct_gpu_mixer_entry = projected_recurrence_gpu_entry<DeltaProductMixer, GpuDeltaRuleLayer>("deltaproduct");

}  // namespace db::cuda
