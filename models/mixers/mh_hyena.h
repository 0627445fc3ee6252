// mh_hyena.h: MAD's multi-head Hyena (mad-lab mad/model/layers/hyena.py MultiHeadHyenaOperator with
// MultiHeadHyenaConv / fftconv_heads; Massaroli et al. 2023 "Laughing Hyena", section 4), order 2,
// inner_factor 1, configured as MAD's configs/layers/mh-hyena.yml (implicit filter of MLP width 2):
//
//   u0 = in_proj(x)                      [B, T, 3D/proj_groups] (bias), tiled proj_groups times -> [B, T, 3D]
//   u  = short_filter(u)                 causal depthwise Conv1d of width short_filter_order (bias)
//   x1, x2, v = u[.., 0:D], u[.., D:2D], u[.., 2D:3D]; channels split into G = D/P groups of P = num_heads
//   per group g, for d1, d2 < P (an outer product, like linear attention with q = x1, k = v, v = x2):
//     s[g,d1,d2] = long_conv(v[g,d1] * x2[g,d2], h[g]) + bias[g] * v[g,d1] * x2[g,d2]
//     o[g,d2]    = sum_{d1} x1[g,d1] * s[g,d1,d2]
//   y = out_proj(o)                      (bias)
// h [T, G] is Hyena's implicit filter (models/layers/hyena_filter.h) with G channels; the long
// convolution runs over the G*P*P outer-product channels (models/kernels/long_conv.h), each group's
// filter gradient summed over its P*P channels in a fixed order. MAD passes num_heads as fftconv_heads'
// head_dim, so P = num_heads is the head size and G = D / num_heads the number of filter groups; that
// is what is implemented. proj_groups = 4 is HyenaOperator's default, which MultiHeadHyenaOperator keeps.
// Filter defaults as MAD's config and HyenaFilter: order 2, emb_dim 3, depth_implicit 2, Sin frequency 1,
// modulation on; the positional embedding is a constant (MAD trains it with learning rate 1e-5).
// Positions are defined on l_max steps; T > l_max is refused.
// State: a long convolution's exact carried state is the whole input history, so none is carried
// (state_size() = 0; split runs are refused). MAD reports no state size; reported_state_size(T) follows
// Zoology's convention for long convolutions (channels of the convolved signal x T): D * P * T.
#pragma once

#include <memory>

#include "models/core/registry.h"
#include "models/layers/hyena_filter.h"
#include "models/layers/linear.h"

namespace db {

class MhHyenaMixer : public Mixer {
 public:
  MhHyenaMixer(int d_model, const Options& options, ParamArena& arena);

  int in_dim() const override { return D_; }
  int out_dim() const override { return D_; }
  int64_t state_size() const override { return 0; }
  int64_t reported_state_size(int seq_len) const override { return int64_t{D_} * P_ * seq_len; }
  void forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) override;
  void backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) override;

 private:
  int D_, P_, G_, l_max_, W_, groups_, U0_;  // U0_ = 3D / proj_groups
  std::unique_ptr<Linear> in_proj_, out_proj_;
  std::unique_ptr<HyenaShortFilter> short_filter_;  // over the 3D projected channels
  Param bias_;                       // [G] skip weight of the long convolution
  std::unique_ptr<HyenaImplicitFilter> filter_;

  int B_ = 0, T_ = 0;
  RealVector x_;            // [B*T, D]
  RealVector u0_;           // [B*T, U0] in_proj output
  RealVector u_, uc_;       // [B*T, 3D] tiled projection, short filter output (x1 | x2 | v)
  RealVector kv_, s_;       // [B*T, G*P*P] outer products (g, d1, d2), their convolution (+ skip)
  RealVector hx_;           // [T, G*P*P] each group's filter repeated over its P*P channels
  RealVector o_;            // [B*T, D]
  RealVector do_, du0_;     // [B*T, D], [B*T, U0]
  RealVector ds_, dkv_;     // [B*T, G*P*P]
  RealVector dhx_;          // [T, G*P*P]
  RealVector dh_;           // [T, G]
  RealVector duc_, du_;     // [B*T, 3D]
};

extern const MixerEntry mh_hyena_mixer_entry;

}  // namespace db
