// rope.h: rotary position embedding (RoPE), half-split rotation as in Llama / HF rotate_half.
//
// For the softmax-attention baseline's q and k. Per head, with K2 = K/2 and
// theta_i = base^(-2i/K): the pair (x[i], x[i+K2]) at position p is rotated by the angle p*theta_i:
//   out[i] = x[i] cos - x[i+K2] sin,   out[i+K2] = x[i+K2] cos + x[i] sin.
// The rotation is orthogonal, so the backward is the inverse rotation (angle -p*theta_i). No
// parameters. cos/sin tables are computed in double and grown on demand (call outside parallel
// regions). Rows are split over threads in fixed blocks.
// Shapes: B batch, T time, H heads, K head dim (even).
#pragma once

#include <vector>

#include "models/core/module.h"

namespace db {

class Rope {
 public:
  explicit Rope(int head_dim, double base = 10000.0);
  int head_dim() const { return K_; }

  // x [B,T,H*K] (row stride row_stride, 0 = H*K) rotated in place for positions t0 .. t0+T-1
  void forward(real* x, int B, int T, int H, int t0 = 0, Index row_stride = 0);
  // dx [B,T,H*K] in place: the inverse rotation (the backward of forward with the same arguments)
  void backward(real* dx, int B, int T, int H, int t0 = 0, Index row_stride = 0);

 private:
  void ensure_table(int len);
  void rotate(real* x, int B, int T, int H, int t0, Index row_stride, real sign);
  int K_;
  double base_;
  int len_ = 0;
  RealVector cos_, sin_;  // [len, K/2]
};

}  // namespace db
