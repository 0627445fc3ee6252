// gpu_head_norm.h: the GPU twin of HeadNorm (models/layers/head_norm.h), the mixers' output norm.
//
// Per-head RMSNorm with one weight shared by all heads, optionally gated with SiLU:
// y = rmsnorm(o_h) w (* silu(gate_h)). Not a GpuModule (it takes the gate as a second input), as
// HeadNorm is not a Module; a mixer twin owns one and calls it between its recurrence and o_proj.
// Weight [V] under the norm's scope (e.g. model.layers.0.attn.o_norm). Kernels in norms.cu.
// In a bf16 run what it keeps (o, the gate) and its output are bf16 (bf16.h); o comes in fp32 (the
// recurrence's output) and is rounded once, so that forward and backward see the same values.
// Shapes: rows = B*T, H heads, V value dim per head; o, gate, y are [rows, H*V].
#pragma once

#include "models/cuda/bf16.h"
#include "models/cuda/device_params.h"
#include "models/cuda/runtime.h"

namespace db::cuda {

class GpuHeadNorm {
 public:
  GpuHeadNorm(const Context& ctx, const ParamScope& scope, int heads, int head_dim, double eps = 1e-5);
  int heads() const { return H_; }
  int head_dim() const { return V_; }

  // o [rows,H*V], gate [rows,H*V] or null (no gate) -> y [rows,H*V]; keeps o, gate and rstd
  void forward(const float* o, const float* gate, float* y, long long rows);
  void forward(const float* o, const bf16* gate, bf16* y, long long rows);
  // dy [rows,H*V] -> d_o [rows,H*V] (overwritten; may alias dy), dgate [rows,H*V] (overwritten;
  // must not alias dy; may be null, and is not touched when the forward had no gate);
  // the weight grad accumulates
  void backward(const float* dy, float* d_o, float* dgate);

 private:
  template <class A>
  void forward_as(const float* o, const A* gate, A* y, long long rows);
  template <class A>
  void backward_as(const float* dy, float* d_o, float* dgate);

  const Context& ctx_;
  DeviceParam weight_;  // [V]
  int H_, V_;
  float eps_;
  long long rows_ = 0;
  bool gated_ = false;
  bool bf16_ = false;             // the last forward's activation type
  ActivationBuffer o_;            // [rows, H*V]
  ActivationBuffer gate_;         // [rows, H*V] (when gated)
  DeviceBuffer<float> rstd_;      // [rows*H]
  DeviceBuffer<float> partials_;  // [partial_count(rows*H), V]
};

}  // namespace db::cuda
