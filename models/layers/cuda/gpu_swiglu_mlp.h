// gpu_swiglu_mlp.h: the GPU twin of SwiGLUMLP (models/layers/swiglu_mlp.h), the channel mixer.
//
// y = down(silu(gate(x)) * up(x)), no biases. The three projections are cuBLAS GEMMs (blas.h,
// true fp32); the elementwise part is swiglu.cu. Weights under the MLP's scope (e.g.
// model.layers.0.mlp): gate_proj.weight [F,D], up_proj.weight [F,D], down_proj.weight [D,F].
// Shapes: rows = B*T, D model width, F hidden size.
#pragma once

#include "models/cuda/gpu_module.h"

namespace db::cuda {

class GpuSwiGLUMLP : public GpuModule {
 public:
  GpuSwiGLUMLP(const Context& ctx, const ParamScope& scope, int d_model, int hidden);
  int hidden() const { return F_; }

  // x [B,T,D] -> y [B,T,D] (must not alias x); keeps x and the gate and up activations
  void forward(const float* x, float* y, int B, int T) override;
  // dy [B,T,D] -> dx [B,T,D] (overwritten; must not alias dy); the three weight grads accumulate
  void backward(const float* dy, float* dx) override;

 private:
  const Context& ctx_;
  DeviceParam gate_, up_, down_;  // [F,D], [F,D], [D,F]
  int D_, F_;
  int rows_ = 0;
  DeviceBuffer<float> x_;   // [rows, D]
  DeviceBuffer<float> g_;   // [rows, F] gate pre-activation
  DeviceBuffer<float> u_;   // [rows, F] up projection; du after the backward
  DeviceBuffer<float> h_;   // [rows, F] silu(g) u
  DeviceBuffer<float> dg_;  // [rows, F] dh, then dg
};

}  // namespace db::cuda
