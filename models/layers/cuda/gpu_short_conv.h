// gpu_short_conv.h: the GPU twin of ShortConv (models/layers/short_conv.h) for training.
//
// Causal depthwise conv of width W with an optional SiLU, on the q/k/v streams of the DeltaNet-
// family mixer twins. Every call starts from the zero state: no state is carried on the GPU
// (gpu_module.h), so this is a GpuModule rather than a stateful mixer. Weight [C,1,W] under the
// conv's scope (e.g. model.layers.0.attn.q_conv1d). Kernels in short_conv.cu.
// Shapes: B batch, T time, C channels, W kernel size.
#pragma once

#include "models/cuda/bf16.h"
#include "models/cuda/gpu_module.h"

namespace db::cuda {

class GpuShortConv : public GpuModule {
 public:
  GpuShortConv(const Context& ctx, const ParamScope& scope, int channels, int kernel_size = 4, bool silu = true);
  int channels() const { return C_; }
  int kernel_size() const { return W_; }

  // x [B,T,C] -> y [B,T,C] (must not alias x); keeps x and (with SiLU) the pre-activation.
  // The float form serves fp32 runs, the bf16 form bf16 runs.
  void forward(const float* x, float* y, int B, int T) override;
  void forward(const bf16* x, float* y, int B, int T);
  // dy [B,T,C] -> dx [B,T,C] (overwritten; must not alias dy); the weight grad accumulates
  void backward(const float* dy, float* dx) override;

 private:
  template <class A>
  void forward_as(const A* x, float* y, int B, int T);
  template <class A>
  void backward_as(const float* dy, float* dx);

  const Context& ctx_;
  DeviceParam weight_;  // [C, 1, W]
  int C_, W_;
  bool silu_;
  int B_ = 0, T_ = 0;
  bool bf16_ = false;             // the last forward's activation type
  ActivationBuffer x_;            // [B, T, C]
  ActivationBuffer z_;            // [B, T, C] pre-activation (with SiLU)
  DeviceBuffer<float> dz_;        // [B, T, C] gradient at the pre-activation (with SiLU)
  DeviceBuffer<float> partials_;  // [ceil(B*T / kShortConvRowsPerPartial), C*W]
};

}  // namespace db::cuda
