// rope.h (cuda): rotary position embedding on the GPU, the CUDA half of models/layers/rope.*.
//
// Softmax attention rotates q and k in place before the scores and rotates their gradients back
// after. Half-split pairs (x[i], x[i+K/2]) at position p turn by p*theta_i, theta_i = base^(-2i/K);
// the backward is the inverse rotation. The cos/sin table is computed on the device in double and
// rounded to float, the CPU's formula, so both sides rotate by the same float numbers; it grows
// (and allocates) only when a longer sequence arrives, so a fixed shape allocates once.
// This header is compiled by nvcc (C++17) as well as by the host compiler.
// Shapes: B batch, T time, H heads, K head dim (even), len table positions.
#pragma once

#include "models/cuda/runtime.h"

namespace db::cuda {

// cos_table, sin_table [len, K/2]: cos and sin of p * base^(-2i/K) for positions 0..len-1
void rope_cos_sin_table(const Context& ctx, float* cos_table, float* sin_table, int len, int head_dim, double base);

// x rows [B*T] of row stride row_stride (0 = H*K), the first H*K columns rotated in place for
// positions t0 .. t0+T-1 (row r at t0 + r % T); sign +1 the forward rotation, -1 its inverse.
// The tables must cover t0 + T positions.
void rope_apply(const Context& ctx, float* x, const float* cos_table, const float* sin_table, int B, int T, int H,
                int head_dim, int t0, long long row_stride, float sign);

// The table and the two directions, as db::Rope (no parameters).
class GpuRope {
 public:
  explicit GpuRope(int head_dim, double base = 10000.0);
  int head_dim() const { return K_; }

  // x [B, T, H*K] (row stride row_stride, 0 = H*K) rotated in place for positions t0 .. t0+T-1
  void forward(const Context& ctx, float* x, int B, int T, int H, int t0 = 0, long long row_stride = 0);
  // dx [B, T, H*K] in place: the inverse rotation (the backward of forward with the same arguments)
  void backward(const Context& ctx, float* dx, int B, int T, int H, int t0 = 0, long long row_stride = 0);

 private:
  void ensure_table(const Context& ctx, int len);
  int K_;
  double base_;
  int len_ = 0;
  DeviceBuffer<float> cos_, sin_;  // [len_, K/2]
};

}  // namespace db::cuda
