// gpu_norms.h: the GPU twins of RMSNorm and LayerNorm (models/layers/rmsnorm.h, layernorm.h).
//
// The block pre-norms and the final norm on train.device: cuda. The host model declares and
// initialises the parameters; a twin takes their device copies from the norm's own ParamScope
// (e.g. model.layers.0.attn_norm -> .weight, .bias). Same maths, eps and saved quantities as the
// CPU modules; kernels in norms.cu. Shapes: rows = B*T, dim = D.
#pragma once

#include "models/cuda/gpu_module.h"

namespace db::cuda {

class GpuRMSNorm : public GpuModule {
 public:
  // scope: the norm's scope (its `weight` [dim] lives under it)
  GpuRMSNorm(const Context& ctx, const ParamScope& scope, int dim, double eps = 1e-6);
  // x [B,T,dim] -> y [B,T,dim]; keeps x and rstd
  void forward(const float* x, float* y, int B, int T) override;
  // dy [B,T,dim] -> dx [B,T,dim] (overwritten; may alias dy); the weight grad accumulates
  void backward(const float* dy, float* dx) override;

 private:
  const Context& ctx_;
  DeviceParam weight_;  // [dim]
  int dim_;
  float eps_;
  long long rows_ = 0;
  DeviceBuffer<float> x_;         // [rows, dim]
  DeviceBuffer<float> rstd_;      // [rows]
  DeviceBuffer<float> partials_;  // [partial_count(rows), dim]
};

class GpuLayerNorm : public GpuModule {
 public:
  // scope: the norm's scope (`weight` and `bias` [dim] live under it)
  GpuLayerNorm(const Context& ctx, const ParamScope& scope, int dim, double eps = 1e-5);
  // x [B,T,dim] -> y [B,T,dim]; keeps xhat and rstd
  void forward(const float* x, float* y, int B, int T) override;
  // dy [B,T,dim] -> dx [B,T,dim] (overwritten; may alias dy); weight and bias grads accumulate
  void backward(const float* dy, float* dx) override;

 private:
  const Context& ctx_;
  DeviceParam weight_, bias_;  // [dim] each
  int dim_;
  float eps_;
  long long rows_ = 0;
  DeviceBuffer<float> xhat_;      // [rows, dim]
  DeviceBuffer<float> rstd_;      // [rows]
  DeviceBuffer<float> partials_;  // [2, partial_count(rows), dim]
};

}  // namespace db::cuda
