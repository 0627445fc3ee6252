// device_params.h: the model's parameters and gradients in device memory, laid out as on the host.
//
// The host ParamArena stays the authority on names, shapes and initialisation (a GPU run builds
// the host model, initialises or loads it, and uploads it). DeviceParams holds one value buffer and
// one gradient buffer with the arena's exact offsets, so the optimiser, clipping and checkpoints
// walk one flat span on either side, and a parameter is found by its fla name. A bf16 run also
// keeps a bf16 copy of the values, the operand every GEMM reads a weight from (autocast's weight
// cache): refresh_bf16_copy() rounds it once per step instead of once per product.
#pragma once

#include <string>

#include "models/core/params.h"
#include "models/cuda/blas.h"
#include "models/cuda/runtime.h"

namespace db::cuda {

static_assert(std::is_same_v<real, float>, "the GPU backend pairs with the float build of the models");

// one parameter on the device
struct DeviceParam {
  float* value = nullptr;
  float* grad = nullptr;
  size_t size = 0;
  const bf16* value_bf16 = nullptr;  // the bf16 copy (current after DeviceParams::refresh_bf16_copy)
  // what a GEMM reads this weight from: the bf16 copy in a bf16 run, the fp32 value otherwise
  GemmIn operand(const Context& ctx) const {
    return ctx.precision() == Precision::bf16 ? GemmIn(value_bf16) : GemmIn(value);
  }
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
  // in a bf16 run, rounds every value into the bf16 copy (queued on the stream); else nothing
  void refresh_bf16_copy();
  // host <-> device copies; these synchronise the stream, so call them only at checkpoints, evals, tests
  void upload_values(const ParamArena& host);
  void download_values(ParamArena& host);
  void download_grads(ParamArena& host);

 private:
  const ParamArena& host_;
  const Context& ctx_;
  size_t size_ = 0;
  DeviceBuffer<float> values_, grads_;
  DeviceBuffer<bf16> values_bf16_;
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
