// device_params.h: the model's parameters and gradients in device memory, laid out as on the host.
//
// The host ParamArena stays the authority on names, shapes and initialisation (a GPU run builds
// the host model, initialises or loads it, and uploads it). DeviceParams holds one value buffer and
// one gradient buffer with the arena's exact offsets, so the optimiser, clipping and checkpoints
// walk one flat span on either side, and a parameter is found by its fla name.
#pragma once

#include <string>

#include "models/core/params.h"
#include "models/cuda/runtime.h"

namespace db::cuda {

static_assert(std::is_same_v<real, float>, "the GPU backend pairs with the float build of the models");

// one parameter on the device
struct DeviceParam {
  float* value = nullptr;
  float* grad = nullptr;
  size_t size = 0;
};

class DeviceParams {
 public:
  // allocates both buffers, uploads the arena's values and zeroes the gradients
  DeviceParams(const ParamArena& host, const Context& ctx);

  size_t size() const { return size_; }
  float* values() { return values_.data(); }
  float* grads() { return grads_.data(); }
  const ParamArena& host() const { return host_; }
  // by full name (model.layers.0.attn.q_proj.weight); throws std::logic_error naming it when absent
  DeviceParam operator[](const std::string& name);

  void zero_grad();
  // host <-> device copies; these synchronise the stream, so call them only at checkpoints, evals, tests
  void upload_values(const ParamArena& host);
  void download_values(ParamArena& host);
  void download_grads(ParamArena& host);

 private:
  const ParamArena& host_;
  const Context& ctx_;
  size_t size_ = 0;
  DeviceBuffer<float> values_, grads_;
};

// a name prefix inside DeviceParams, as ParamArena::Scope on the host: scope("q_proj.weight")
class ParamScope {
 public:
  ParamScope(DeviceParams& params, std::string prefix) : params_(&params), prefix_(std::move(prefix)) {}
  DeviceParam operator()(const std::string& name) const { return (*params_)[qualified(name)]; }
  ParamScope sub(const std::string& name) const { return ParamScope(*params_, qualified(name)); }

 private:
  std::string qualified(const std::string& name) const { return prefix_.empty() ? name : prefix_ + "." + name; }
  DeviceParams* params_;
  std::string prefix_;
};

}  // namespace db::cuda
