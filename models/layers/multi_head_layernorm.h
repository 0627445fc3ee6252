// multi_head_layernorm.h: xLSTM's MultiHeadLayerNorm, a LayerNorm over each head's channels with a
// per-channel weight and no bias (a group norm with one group per head).
//
// For row r and head h, with x_h the V channels of that head:
//   y_h = (x_h - mean(x_h)) * rsqrt(var(x_h) + eps) * w_h,      w [H*V], one weight per channel.
// The output norm of xLSTM's mLSTM cell and sLSTM layer (xlstm/components/ln.py: F.group_norm with
// num_groups = H, weight = 1 + w_zero_init, bias off). The weight is stored as the effective scale,
// initialised to ones, so `1 + w` and `w` differ only in what weight decay would pull towards; norm
// weights here are not decayed. Differs from HeadNorm (head_norm.h), which is an RMSNorm whose [V]
// weight is shared by all heads. Rows are split over threads; the weight gradient is reduced over
// fixed row blocks (parallel.h), so bits do not depend on the thread count.
// Shapes: rows = B*T, H heads, V channels per head.
#pragma once

#include <string>

#include "models/core/module.h"
#include "models/core/params.h"

namespace db {

class MultiHeadLayerNorm : public Module {
 public:
  MultiHeadLayerNorm(ParamArena& arena, const std::string& name, int heads, int head_dim, double eps = 1e-5);
  int in_dim() const override { return H_ * V_; }
  int out_dim() const override { return H_ * V_; }

  // x [B,T,H*V] -> y [B,T,H*V]
  void forward(const real* x, real* y, int B, int T) override { forward(x, y, Index(B) * T); }
  // dy -> dx [B,T,H*V] (overwritten; may alias dy); weight grad accumulates
  void backward(const real* dy, real* dx) override;
  // x [rows,H*V] -> y [rows,H*V]; keeps xhat and rstd
  void forward(const real* x, real* y, Index rows);

  Param weight;  // [H*V]

 private:
  int H_, V_;
  real eps_;
  Index rows_ = 0;
  RealVector xhat_;     // [rows, H*V] normalised input (before the weight)
  RealVector rstd_;     // [rows*H]
  RealVector scratch_;  // reduction partials
};

}  // namespace db
