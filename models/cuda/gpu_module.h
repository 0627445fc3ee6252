// gpu_module.h: the CUDA half of a layer or token mixer, and the table of mixers that have one.
//
// A GpuModule is the device twin of a db::Module: the same maths on device pointers, queued on
// the Context's stream, with the same contract (module.h): forward keeps what backward needs in
// its own DeviceBuffers, backward OVERWRITES dx and ADDS into the parameter gradients, calls are
// strictly paired. Parameters are not declared here: the host model declares and initialises
// them, and a twin finds its device copies by name through a ParamScope (device_params.h).
// Recurrent state is not carried between calls on the GPU (training never does); a mixer's twin
// starts every sequence from the zero state.
//
// A mixer has a CUDA half when gpu_mixer_registry() lists it (models/cuda/gpu_mixer_registry.cpp,
// one line per mixer, as the CPU table). A run on `train.device: cuda` with a mixer that is not
// listed is refused when its config is read, naming the mixer.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/options.h"
#include "models/core/registry.h"
#include "models/cuda/device_params.h"
#include "models/cuda/runtime.h"

namespace db::cuda {

class GpuModule {
 public:
  virtual ~GpuModule() = default;
  // x [B,T,in] -> y [B,T,out], device pointers
  virtual void forward(const float* x, float* y, int B, int T) = 0;
  // dy [B,T,out] -> dx [B,T,in] (overwritten); parameter gradients accumulate
  virtual void backward(const float* dy, float* dx) = 0;
};

struct GpuMixerEntry {
  std::string name;  // the CPU entry's name (model.mixer.name)
  // the twin of the mixer the CPU entry builds from the same d_model and resolved options, its
  // parameters under `params` (the scope the host mixer declared them in)
  std::function<std::unique_ptr<GpuModule>(const Context& ctx, int d_model, const Options& options,
                                           const ParamScope& params)>
      create;
  // the GPU half's own limits on the mixer's options as the experiment gives them (model.mixer
  // without its name), beyond the CPU mixer's: throws ConfigError naming the key. Asked when a
  // config is read, so it needs no GPU. Empty: no limits of its own.
  std::function<void(const OptionOverrides& given)> check;
};

const std::vector<const GpuMixerEntry*>& gpu_mixer_registry();
// nullptr when the mixer has no CUDA half
const GpuMixerEntry* find_gpu_mixer(const std::string& name);

}  // namespace db::cuda
