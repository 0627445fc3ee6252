// short_conv.h: fla's ShortConvolution, a causal depthwise Conv1d with an optional SiLU after it.
//
// The q/k/v streams of DeltaNet-family mixers go through it (fla/modules/conv/short_conv.py).
// Weight [C,1,W] `<name>.weight` (Conv1d layout, ~ N(0, init_std) as fla's _init_weights), no bias:
//   z[t,c] = sum_{i<W} w[c,i] x[t-W+1+i, c],   y = silu(z) or z,
// where x at negative time comes from the carried state (zeros when none). The state is the last
// W-1 inputs of each sequence, [W-1, C] per sequence (oldest first), i.e. [B, (W-1)*C], so a
// sequence split in two with the state carried gives the same outputs as one call. It is a
// db::Mixer (C -> C with a state) so the gradient checker covers the state path too.
// Work is split over fixed (sequence, 64-step) units; the weight gradient is reduced over a fixed
// partition of those units, so bits do not depend on the thread count.
// Shapes: B batch, T time, C channels, W kernel size.
#pragma once

#include <string>
#include <vector>

#include "models/core/module.h"
#include "models/core/params.h"

namespace db {

class ShortConv : public Mixer {
 public:
  ShortConv(ParamArena& arena, const std::string& name, int channels, int kernel_size = 4, bool silu = true,
            double init_std = 0.02);

  int in_dim() const override { return C_; }
  int out_dim() const override { return C_; }
  int kernel_size() const { return W_; }
  // (W-1)*C numbers per sequence
  int64_t state_size() const override { return static_cast<int64_t>(W_ - 1) * C_; }

  // x [B,T,C] -> y [B,T,C]; state_in [B,(W-1)*C] or null (zeros); state_out [B,(W-1)*C] or null
  void forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) override;
  // dy [B,T,C], dstate_out [B,(W-1)*C] or null -> dx [B,T,C] (overwritten), dstate_in [B,(W-1)*C]
  // or null (overwritten); weight grad accumulates
  void backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) override;

  Param weight;  // [C, 1, W]

 private:
  int C_, W_;
  bool silu_;
  int B_ = 0, T_ = 0;
  RealVector wt_;       // [W, C] weight transposed, channels contiguous
  RealVector xext_;     // [B, T+W-1, C] carried state followed by the input
  RealVector z_;        // [B, T, C] pre-activation (kept when silu)
  RealVector z_sigmoid_;  // [B, T, C] sigmoid(z) (when silu), so the backward needs no exp
  RealVector dz_;       // [B, T, C]
  RealVector dwt_;      // [W, C] reduced weight gradient of one backward
  RealVector scratch_;  // reduction partials
};

}  // namespace db
