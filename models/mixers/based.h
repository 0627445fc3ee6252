// based.h: Based's linear attention (Arora et al. 2024, "Simple linear attention language models
// balance the recall-throughput tradeoff"), as zoology/mixers/based.py defines it.
//
//   q = q_proj x, k = k_proj x       [H*f] each: f = feature_dim per head (16 in Zoology's configs)
//   v = v_proj x                     [H*V], V = d_model / H
//   phi(x) = [1, x / f^(1/4), (x x^T) / (sqrt(2) sqrt(f))]   2nd-order Taylor map of exp(q.k / sqrt f):
//            phi(q).phi(k) = 1 + q.k / sqrt(f) + (q.k)^2 / (2 f)  (> 0 for all q, k)
//   per head: S_t = S_{t-1} + phi(k_t) v_t^T,   z_t = z_{t-1} + phi(k_t)      S [F, V], z [F]
//             y_t = S_t^T phi(q_t) / (phi(q_t) . z_t + eps)                   (eps = 1e-12)
//   out = o_proj y
// The quadratic block is kept in its symmetric form (Zoology's TaylorExp.forward_mem_save and
// expanded_size): x_i^2 / (sqrt 2 sqrt f) on the diagonal and x_i x_j / sqrt f for i > j, which
// gives the same kernel with F = 1 + f + f(f+1)/2 features (153 for f = 16) instead of 1 + f + f^2.
// Zoology's Based divides by the normaliser (no output norm, no gate, no short conv, no RoPE: its
// apply_rotary option is off by default and in the MQAR configs).
//
// Heads: Zoology has num_heads and num_key_value_heads, but its default path views k as
// [num_key_value_heads, feature_dim] after projecting to feature_dim * num_heads, so the two must
// be equal there; its MQAR configs use 1 and 1. One key, num_heads, stands for both.
// Parameter names are fla's BasedLinearAttention's (q_proj, k_proj, v_proj, o_proj; Zoology's
// proj_q, ...). One form only: the token-by-token recurrence (no `mode` key); its backward keeps
// phi(q), phi(k), the normaliser and y per token and re-runs the state forward, so memory is
// O(T F) per sequence, not O(T F V).
//
// Carried state per sequence: [H, F, V] numerators then [H, F] normaliser sums; reported state size
// = the same H (V + 1) F numbers, which is Zoology's Based.state_size.
//
// Zoology's MQAR "based" model is a hybrid: models_repo.py add_based builds 2 layers through
// zoology.mixers.hybrid.Hybrid, which cycles its configs over layers (layer i gets configs[i % n]):
// layer 0 BaseConv (kernel 3 with an implicit long conv), layer 1 Based. The Based paper's language
// models also mix in sliding-window softmax attention layers. This repository's model cycles its
// mixer list over layers the same way (models/backbones/model.h), and softmax_attention has a
// `window`, so [based, softmax_attention(window)] is expressible; BaseConv is not (no such mixer
// here), so Zoology's exact MQAR Based model is not.
#pragma once

#include <memory>
#include <vector>

#include "models/core/registry.h"
#include "models/layers/linear.h"

namespace db {

class BasedMixer : public Mixer {
 public:
  BasedMixer(int d_model, const Options& options, ParamArena& arena);

  int in_dim() const override { return D_; }
  int out_dim() const override { return D_; }
  int64_t state_size() const override { return int64_t{H_} * F_ * (V_ + 1); }
  int64_t reported_state_size(int) const override { return state_size(); }
  void forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) override;
  void backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) override;

  int features() const { return F_; }
  // phi(x), x [f] -> out [F]; public so a test can check the kernel it induces
  void feature_map(const real* x, real* out) const;

 private:
  // dphi [F] -> dx [f] (overwritten) at the point x [f]
  void feature_map_backward(const real* x, const real* dphi, real* dx) const;

  int D_, H_, f_, F_, V_;
  real eps_;
  real lin_scale_, diag_scale_, pair_scale_;  // f^-1/4, 1/(sqrt 2 sqrt f), 1/sqrt f
  std::unique_ptr<Linear> q_proj_, k_proj_, v_proj_, o_proj_;

  int B_ = 0, T_ = 0;
  bool has_state_in_ = false;
  RealVector x_;                 // [B*T, D]
  RealVector qp_, kp_, vp_;      // [B*T, H*f], [B*T, H*f], [B*T, H*V]
  RealVector phq_, phk_;         // [B, H, T, F] feature maps
  RealVector den_;               // [B, H, T] phi(q_t) . z_t + eps
  RealVector yh_;                // [B, H, T, V] normalised outputs
  RealVector y_;                 // [B*T, H*V] before o_proj
  RealVector s0_, z0_;           // [B, H, F, V], [B, H, F] carried state in
  RealVector st_, zt_;           // [B, H, F, V], [B, H, F] state out
  // backward
  RealVector dy_;                // [B*T, H*V]
  RealVector dnum_, dden_;       // [B, H, T, V], [B, H, T]
  RealVector dphq_, dphk_;       // [B, H, T, F]
  RealVector dqp_, dkp_, dvp_;   // projection layout
  RealVector ds_, dz_;           // [B, H, F, V], [B, H, F]: state gradients, walking back
  RealVector scratch_;           // [B*H, F] running z in the backward's forward pass
};

extern const MixerEntry based_mixer_entry;

}  // namespace db
