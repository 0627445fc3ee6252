// gpu_swiglu_mlp.h: the GPU twin of SwiGLUMLP (models/layers/swiglu_mlp.h), the channel mixer.
//
// y = down(silu(gate(x)) * up(x)), no biases. The three projections are cuBLAS GEMMs (blas.h,
// true fp32, or bf16 operands in a bf16 run); the elementwise part is swiglu.cu. The activations it
// keeps (x, the gate and up projections, h) are bf16 in a bf16 run (bf16.h), fp32 otherwise.
// Weights under the MLP's scope (e.g. model.layers.0.mlp): gate_proj.weight [F,D], up_proj.weight
// [F,D], down_proj.weight [D,F].
// Shapes: rows = B*T, D model width, F hidden size.
#pragma once

#include "models/cuda/bf16.h"
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
  template <class A>
  void forward_as(const float* x, float* y);
  template <class A>
  void backward_as(const float* dy, float* dx);

  const Context& ctx_;
  DeviceParam gate_, up_, down_;  // [F,D], [F,D], [D,F]
  int D_, F_;
  int rows_ = 0;
  ActivationBuffer x_;      // [rows, D]
  ActivationBuffer g_;      // [rows, F] gate pre-activation
  ActivationBuffer u_;      // [rows, F] up projection (fp32: du after the backward)
  ActivationBuffer h_;      // [rows, F] silu(g) u
  DeviceBuffer<float> dg_;  // [rows, F] dh, then dg
  DeviceBuffer<float> du_;  // [rows, F] du (bf16 runs; fp32 runs write it over u)
};

}  // namespace db::cuda
