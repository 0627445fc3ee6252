// hyena_filter.h: Hyena's two filters, shared by the hyena and mh_hyena mixers: the implicit long
// filter (Zoology's Filter, MAD's HyenaFilter; Poli et al. 2023) and the short causal depthwise
// Conv1d with bias that follows in_proj (HyenaShortFilter, at the end of this header).
//
//   e_t = (t', cos(f_j w_t), -sin(f_j w_t))   j < bands = (emb_dim-1)/2, t' = t/(l_max-1), w_t = 2 pi t/l_max,
//                                             f = linspace(1e-4, bands-1, bands)          e [T, emb_dim]
//   g = W_last sin(F(... sin(F(W_0 e_t + b_0)) ...))   width `order`, `inner` (order x order) layers,
//                                             one learnable frequency F [order] shared by every Sin
//                                             (both references reuse one Sin module), W_last no bias
//   h_t = g_t * exp(-t' |delta|)              ExponentialModulation, delta = linspace(ln(0.01)/1.5,
//                                             ln(0.01)/0.3, C), fixed (modulation_lr = 0)   h [T, C]
// Parameters, under the caller's scope: implicit_filter.{0,2,..}.weight/bias (Linear, N(0, 0.02) as the
// references' _init_weights), implicit_filter.1.freq [1, order] (init sin_freq, no weight decay).
// The positional embedding is a constant here (the references train it with learning rate 1e-5).
// backward() takes dh and adds into the parameter gradients, serially (fixed order).
#pragma once

#include <memory>
#include <vector>

#include "models/core/params.h"
#include "models/layers/linear.h"

namespace db {

class HyenaImplicitFilter {
 public:
  HyenaImplicitFilter(ParamArena& arena, int channels, int l_max, int order, int emb_dim, int inner, double sin_freq,
                      bool modulate);

  // the filter at taps 0..T-1 (T <= l_max): returns h [T, C], valid until the next call
  const real* forward(int T);
  // dh [T, C] for the last forward's T -> parameter gradients (added)
  void backward(const real* dh);

 private:
  int C_, l_max_, order_, emb_dim_, inner_;
  bool modulate_;
  Param freq_;                                // [1, order]
  std::vector<std::unique_ptr<Linear>> mlp_;  // emb_dim -> order, (order -> order) x inner, order -> C
  std::vector<real> deltas_;                  // [C] |decay rates|

  int T_ = 0;
  RealVector emb_;               // [T, emb_dim]
  std::vector<RealVector> pre_;  // inner+1 of [T, order] Linear outputs before each Sin
  std::vector<RealVector> act_;  // inner+1 of [T, order] sin(F * pre)
  RealVector modulation_;        // [T, C]
  RealVector graw_, h_;          // [T, C] MLP output, filter
  RealVector dgraw_;             // [T, C]
  RealVector dact_, dpre_;       // [T, order]
};

// The short filter: uc[t, c] = b[c] + sum_i w[c, i] u[t - W + 1 + i, c] over `width` channels, as
// PyTorch's Conv1d(groups = width, padding W - 1) cut to causal length. Parameters, under the caller's
// scope: short_filter.weight [width, 1, W] and short_filter.bias [width], PyTorch's default init
// U(-1/sqrt(W), 1/sqrt(W)), no weight decay on the bias. (ShortConv, fla's, has no bias.)
class HyenaShortFilter {
 public:
  HyenaShortFilter(ParamArena& arena, int width, int W);
  // u [B,T,width] -> uc [B,T,width]
  void forward(const real* u, real* uc, int B, int T) const;
  // u from the forward, duc [B,T,width] -> du [B,T,width] (overwritten); the weight and bias
  // gradients accumulate serially over (b, t), a fixed order
  void backward(const real* u, const real* duc, real* du, int B, int T);

 private:
  int width_, W_;
  Param weight_, bias_;  // [width, 1, W], [width]
};

}  // namespace db
