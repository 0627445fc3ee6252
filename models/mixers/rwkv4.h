// rwkv4.h: the RWKV-4 time mixer, as Zoology's RWKVTimeMixer (zoology/mixers/rwkv.py) runs it, from
// the RWKV-4 paper (Peng et al. 2023, "RWKV: Reinventing RNNs for the Transformer Era").
//
// Per token t and channel c (width d_model throughout; x_{-1} is the carried previous token, or 0):
//   xk = x_t * time_mix_k + x_{t-1} * (1 - time_mix_k)     (likewise xv with time_mix_v, xr with time_mix_r)
//   k = key(xk), v = value(xv), r = receptance(xr)           (no biases)
//   wkv_t = (sum_{i<t} e^{-(t-1-i) w + k_i} v_i + e^{u + k_t} v_t) / (sum_{i<t} e^{-(t-1-i) w + k_i} + e^{u + k_t})
//           with w = exp(time_decay), u = time_first (per channel), in the stable running-maximum form
//           of models/kernels/rwkv4_wkv.h
//   out = output(sigmoid(r) * wkv)
// One form only, token by token (the form RWKV-4 trains with); the backward is exact.
//
// Initialisation as Zoology: with l the layer index (option init_layer; by default read from the
// parameter scope "layers.<l>", 0 when absent) and Zoology's n_layer = 12 (RWKVTimeMixer's default, which Zoology never overrides;
// option init_n_layer), r0 = l / (n_layer - 1), r1 = 1 - l / n_layer:
//   time_decay[c] = -5 + 8 (c / (D-1))^(0.7 + 1.3 r0),   time_first[c] = log 0.3 + 0.5 ((c+1) mod 3 - 1)
//   time_mix_k[c] = (c/D)^r1,  time_mix_v[c] = (c/D)^r1 + 0.3 r0,  time_mix_r[c] = (c/D)^(0.5 r1)
// and the four projections ~ N(0, 0.02) (Zoology's _init_weights; its init_rwkv is never called).
// time_* parameters have no weight decay.
//
// Carried state per sequence (state_size() = 3 D): the WKV state (m, q) of every channel, stored as
// [m: D][q: D], then the previous token's x [D]. (m, q) is the running-maximum state of RWKV-LM's
// kernel, (numerator a, denominator b, max exponent p), rescaled to b = 1: m = a / b, q = p + log b
// (models/kernels/rwkv4_wkv.h). Deviation from carrying (a, b, p) as such: every real (m, q) is a
// valid state, whereas a carried b <= 0 (never reached, but drawn by the generic gradient check's
// random state_in) makes the output's denominator cross zero. A null state_in is the empty state
// (m = 0, q = -1e38); an all-zero one is a state of denominator 1 and numerator 0.
// reported_state_size: Zoology's RWKVTimeMixer defines no state_size; we report 2 D, the numerator
// and denominator of every channel (the token shift is a conv tail, which no mixer's reported size
// counts).
// Batch rows run in parallel; the per-channel parameter gradients are summed over rows in order.
#pragma once

#include <memory>

#include "models/core/registry.h"
#include "models/layers/linear.h"

namespace db {

class Rwkv4Mixer : public Mixer {
 public:
  Rwkv4Mixer(int d_model, const Options& options, ParamArena& arena);

  int in_dim() const override { return D_; }
  int out_dim() const override { return D_; }
  int64_t state_size() const override { return int64_t{3} * D_; }
  int64_t reported_state_size(int seq_len) const override { return int64_t{2} * D_; }
  void forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) override;
  void backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) override;

 private:
  bool parallel_rows() const;

  int D_;
  std::unique_ptr<Linear> key_, value_, receptance_, output_;
  Param time_decay_, time_first_;            // [D]
  Param time_mix_k_, time_mix_v_, time_mix_r_;  // [1, 1, D]

  int B_ = 0, T_ = 0;
  RealVector x_;             // [B*T, D] input
  RealVector xx_;            // [B*T, D] previous token's x (the shift)
  RealVector xk_, xv_, xr_;  // [B*T, D] mixed inputs
  RealVector k_, v_, r_;     // [B*T, D] projections
  RealVector sr_;            // [B*T, D] sigmoid(r)
  RealVector wkv_;           // [B*T, D]
  RealVector o_;             // [B*T, D] sr * wkv, the output projection's input
  RealVector states_;        // [B, D, T+1, 2] WKV state (m, q) entering each step, then the final one
  // backward buffers
  RealVector do_, dwkv_, dk_, dv_, dr_;   // [B*T, D]
  RealVector dxk_, dxv_, dxr_;            // [B*T, D] input grads of the three projections
  RealVector dxx_;                        // [B*T, D] gradient of the shifted x
  RealVector dw_part_, du_part_;          // [B, D] per-row partials of d(w), d(u)
};

extern const MixerEntry rwkv4_mixer_entry;

}  // namespace db
