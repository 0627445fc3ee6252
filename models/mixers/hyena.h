// hyena.h: Zoology's Hyena operator of order 2 (zoology/mixers/hyena.py; Poli et al. 2023), one head,
// one block:
//
//   u = in_proj(x)                          [B, T, 3D]  (bias)
//   u = short_filter(u)                     causal depthwise Conv1d of width short_filter_order (bias)
//   x1, x2, v = u[:, :, 0:D], u[:, :, D:2D], u[:, :, 2D:3D]
//   w = v * x1                              pre-gating
//   z = long_conv(w, h) + w * bias          per channel, h [T, D] the implicit filter (fftconv_ref, no gelu)
//   y = out_proj(z * x2)                    post-gating, out_proj with bias
// The implicit filter (Zoology's Filter, models/layers/hyena_filter.h):
//   e_t = (t', cos(f_j w_t), -sin(f_j w_t))  j < bands = (emb_dim-1)/2, t' = t/(l_max-1), w_t = 2 pi t/l_max,
//                                             f = linspace(1e-4, bands-1, bands)
//   g = W_last sin(F(... sin(F(W_0 e_t + b_0)) ...))   width filter_order, num_inner_mlps inner layers,
//                                             one learnable frequency vector F [filter_order] shared by
//                                             every Sin (Zoology reuses one Sin module), W_last no bias
//   h_t = g * exp(-t' |delta|)                ExponentialModulation: delta = linspace(ln(0.01)/1.5,
//                                             ln(0.01)/0.3, D), fixed (Zoology's modulation_lr = 0)
// Defaults follow Zoology's: filter_order 64, emb_dim 3, num_inner_mlps 2, short_filter_order 3, Sin
// frequency 1, bias on, modulation on. The filter's gradient comes back through the long convolution's
// filter gradient (models/kernels/long_conv.h) and then through the MLP.
// Deviations: Zoology registers the positional embedding as a parameter with learning rate 1e-5; it is
// a constant here (one learning rate per run). The filter MLP gets weight decay like other Linears
// (Zoology sets its wd to 0 where the optimiser honours per-parameter settings).
// Positions are defined on l_max steps, so T > l_max is refused.
// State: the exact carried state of a long convolution is the whole input history, so this mixer carries
// none (state_size() = 0, like softmax attention without a window; split runs are refused).
// reported_state_size(T) is Zoology's Hyena.state_size: d_model * T.
#pragma once

#include <memory>
#include <vector>

#include "models/core/registry.h"
#include "models/layers/hyena_filter.h"
#include "models/layers/linear.h"

namespace db {

class HyenaMixer : public Mixer {
 public:
  HyenaMixer(int d_model, const Options& options, ParamArena& arena);

  int in_dim() const override { return D_; }
  int out_dim() const override { return D_; }
  int64_t state_size() const override { return 0; }
  int64_t reported_state_size(int seq_len) const override { return int64_t{D_} * seq_len; }
  void forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) override;
  void backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) override;

 private:
  int D_, l_max_, order_, emb_dim_, inner_, W_;
  bool modulate_, filter_bias_;
  std::unique_ptr<Linear> in_proj_, out_proj_;
  std::unique_ptr<HyenaShortFilter> short_filter_;  // over the 3D projected channels
  Param bias_;                       // [D] the filter's skip weight
  std::unique_ptr<HyenaImplicitFilter> filter_;  // h [T, D] (models/layers/hyena_filter.h)

  int B_ = 0, T_ = 0;
  RealVector x_;                 // [B*T, D]
  RealVector u_;                 // [B*T, 3D] in_proj output (short filter input)
  RealVector uc_;                // [B*T, 3D] short filter output (x1 | x2 | v)
  RealVector w_;                 // [B*T, D] v * x1
  RealVector z_;                 // [B*T, D] long_conv(w, h) + w * bias
  RealVector g_;                 // [B*T, D] z * x2
  const real* h_ = nullptr;      // [T, D] the filter (owned by filter_)
  RealVector dg_, dz_, dw_, duc_, du_;  // [B*T, D] or [B*T, 3D]
  RealVector dh_;                // [T, D]
};

extern const MixerEntry hyena_mixer_entry;

}  // namespace db
