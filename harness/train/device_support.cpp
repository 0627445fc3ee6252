// device_support.cpp: the GPU backend's capabilities (see device_support.h).
#include "harness/train/device_support.h"

#include <fmt/format.h>

#include <stdexcept>

#ifdef DELTABENCH_HAVE_CUDA
#include "models/cuda/gpu_module.h"
#include "models/cuda/runtime.h"
#endif

namespace db {

bool cuda_backend_built() {
#ifdef DELTABENCH_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

void require_cuda_build() {
  if (!cuda_backend_built())
    throw ConfigError("device", "'device: cuda' needs a build with the CUDA backend; this one was configured where "
                                "no nvcc >= 12 was found (install the CUDA toolkit and rebuild)");
}

bool has_gpu_mixer(const std::string& mixer) {
#ifdef DELTABENCH_HAVE_CUDA
  return cuda::find_gpu_mixer(mixer) != nullptr;
#else
  (void)mixer;
  return false;
#endif
}

void require_gpu_mixer(const std::string& mixer) {
#ifdef DELTABENCH_HAVE_CUDA
  if (has_gpu_mixer(mixer)) return;
  std::string names;
  for (const auto* e : cuda::gpu_mixer_registry()) names += (names.empty() ? "" : ", ") + e->name;
  throw ConfigError("name", fmt::format("mixer '{}' has no CUDA implementation yet (on the GPU: {}); train it with "
                                        "device: cpu",
                                        mixer, names));
#else
  require_cuda_build();
#endif
}

void require_gpu_mixer(const std::string& mixer, const OptionOverrides& given) {
  require_gpu_mixer(mixer);
#ifdef DELTABENCH_HAVE_CUDA
  if (const auto* entry = cuda::find_gpu_mixer(mixer); entry->check) entry->check(given);
#else
  (void)given;
#endif
}

int visible_gpu_count() {
#ifdef DELTABENCH_HAVE_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

void require_visible_gpu(int gpu) {
  if (!cuda_backend_built()) throw std::runtime_error("train.device is cuda but this build has no CUDA backend");
  const int visible = visible_gpu_count();
  if (visible == 0) throw std::runtime_error("train.device is cuda but no GPU is visible to this process");
  if (gpu < 0 || gpu >= visible)
    throw std::runtime_error(fmt::format("GPU {} was asked for but this process sees {} (CUDA_VISIBLE_DEVICES)", gpu, visible));
}

}  // namespace db
