// gpu_mixer_registry.cpp: the mixers that have a CUDA half. Adding one = one line here (see
// docs/adding-a-mixer.md); a mixer missing from this table is refused on train.device: cuda.
#include "common/registry_entry.h"
#include "models/cuda/gpu_module.h"

namespace db::cuda {

// DELTABENCH_GPU_MIXER(x) is &x_gpu_mixer_entry, defined by the mixer's CUDA half
#define DELTABENCH_GPU_MIXER(name) DELTABENCH_ENTRY(GpuMixerEntry, name##_gpu_mixer_entry)

const std::vector<const GpuMixerEntry*>& gpu_mixer_registry() {
  static const std::vector<const GpuMixerEntry*> table = {
      DELTABENCH_GPU_MIXER(softmax_attention),
      DELTABENCH_GPU_MIXER(linear_attention),
      DELTABENCH_GPU_MIXER(deltanet),
      DELTABENCH_GPU_MIXER(gated_deltanet),
      DELTABENCH_GPU_MIXER(deltaproduct),
      DELTABENCH_GPU_MIXER(gated_linear_attention),
  };
  return table;
}

#undef DELTABENCH_GPU_MIXER

const GpuMixerEntry* find_gpu_mixer(const std::string& name) {
  for (const auto* e : gpu_mixer_registry())
    if (e->name == name) return e;
  return nullptr;
}

}  // namespace db::cuda
