// device_support.h: what the GPU backend can train, asked when a config is read.
//
// train.device: cuda needs a build made where nvcc was found and a CUDA half for every part of the
// model. These checks run when an experiment is resolved, so a sweep with an unsupported run is
// refused before any run starts, with the file, line and key of the culprit; whether a GPU is
// actually visible is asked when the sweep starts (a config can be checked on a machine without one).
#pragma once

#include <string>

#include "common/options.h"
#include "models/core/registry.h"

namespace db {

// true when this binary carries the CUDA backend
bool cuda_backend_built();
// throws ConfigError("device", ...) when train.device is cuda and the build has no CUDA backend
void require_cuda_build();
// whether the mixer has a CUDA half (false in a build without CUDA)
bool has_gpu_mixer(const std::string& mixer);
// throws ConfigError("name", ...) naming a mixer that has no CUDA half
void require_gpu_mixer(const std::string& mixer);
// the same, then the CUDA half's own limits on the mixer's options as given (ConfigError naming the key)
void require_gpu_mixer(const std::string& mixer, const OptionOverrides& given);
// GPUs visible to this process (0 in a build without CUDA)
int visible_gpu_count();
// throws std::runtime_error when GPU `gpu` is not visible (checked as a cuda run starts)
void require_visible_gpu(int gpu);

}  // namespace db
