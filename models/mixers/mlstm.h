// mlstm.h: the xLSTM mLSTM cell as a token mixer (Beck et al. 2024, "xLSTM: Extended Long
// Short-Term Memory", section 2.3; reference code NX-AI/xlstm, xlstm/blocks/mlstm/{layer,cell,
// backends}.py). A matrix memory with exponential input gating and a stabiliser:
//
//   xc  = SiLU(conv(x))       (causal depthwise conv, optional; without it xc = x)     [B,T,D]
//   q   = q_proj xc,  k = k_proj xc,  v = v_proj x                                    [B,T,H*K]
//   i~, f~ = igate [q;k;v] + b_i,  fgate [q;k;v] + b_f   (one scalar per head)         [B,T,H]
//   per head, with s = 1/sqrt(K) and log f_t = logsigmoid(f~_t):
//     m_t = max(log f_t + m_{t-1}, i~_t)                       stabiliser
//     f'_t = exp(log f_t + m_{t-1} - m_t),  i'_t = exp(i~_t - m_t)
//     C_t = f'_t C_{t-1} + i'_t (s k_t) v_t^T                  [K, V]
//     n_t = f'_t n_{t-1} + i'_t (s k_t)                        [K]
//     h~_t = C_t^T q_t / max(|n_t . q_t|, exp(-m_t))           [V]
//   y = o_proj( (MultiHeadLayerNorm(h~) + skip * xc) * SiLU(g_proj x) )
//
// The stabilised state is the true one times exp(-m_t): C_t = exp(-m_t) C^true_t with C^true_t =
// f_t C^true_{t-1} + exp(i~_t) k v^T, and the same for n, so h~ equals the paper's unstabilised
// C^true q / max(|n^true . q|, 1) exactly; m only keeps exp() in range (tests/models_f64/
// test_xlstm_stabiliser.cpp checks this against the naive formulas in long double). As in the
// reference: gates read the concatenation [q; k; v] (not x), gate weights start at zero, the
// forget bias at linspace(3, 6) over heads and the input bias ~ N(0, 0.1); the norm is a per-head
// LayerNorm with per-channel weight and no bias, eps 1e-5; the learnable skip (ones) adds the conv
// output back before the output gate; the carried stabiliser starts at m_0 = 0 (the reference's
// zero state). Deviations: the reference's eps = 1e-6 added to the denominator is left out (it
// would make the stabiliser change the output; exp(-m) > 0 already bounds the denominator until m
// is ~80 in float), the conv has no bias (xLSTM's CausalConv1d has one; the ShortConv reused here,
// fla's, has none), and projections are full D x D with N(0, 0.02) init (the project's fla scheme)
// rather than xLSTM's block-diagonal qkv_proj_blocksize = 4 projections with small_init.
//
// What of xLSTM's mLSTM block is here: its layer from the input of the cell branch on. Left to the
// backbone (models/backbones/model.h: x + mixer(norm(x)), then an optional MLP): the block's
// pre-LayerNorm and residual, and the layer's up-projection proj_up (factor 2) whose halves feed the
// cell branch and the output gate; here both read the normed x directly at width D, so the inner
// width is d_model and proj_down is o_proj [D, D].
//
// Grazzi et al. 2025 ("Unlocking State-Tracking in Linear RNNs Through Negative Eigenvalues",
// Table 3) run mLSTM as published (only Mamba and DeltaNet get a [-1, 1] variant), so there is no
// eigen_range option: f_t = sigmoid(f~_t) stays in (0, 1).
//
// Form: recurrent only (the token-by-token reference; no chunkwise form yet, so no `mode` option).
// The forward keeps every C_t and n_t ([T+1, K, V] per sequence) for the backward.
// Carried state per sequence (state_size()): C [H, K, V], n [H, K], m [H], then the conv tail
// [(W-1) * D] when the short conv is on.
// reported_state_size(T) = H*K*V + H*K + H: the recurrent memory C, its normaliser n and the
// stabiliser m, not the conv tail (Zoology counts a linear attention's normaliser with its KV state,
// e.g. based's state_size, and leaves short-conv tails out).
#pragma once

#include <memory>

#include "models/core/registry.h"
#include "models/layers/linear.h"
#include "models/layers/multi_head_layernorm.h"
#include "models/layers/packed_state_conv.h"
#include "models/layers/short_conv.h"

namespace db {

class MLSTMMixer : public Mixer {
 public:
  MLSTMMixer(int d_model, const Options& options, ParamArena& arena);

  int in_dim() const override { return D_; }
  int out_dim() const override { return D_; }
  int64_t state_size() const override;
  int64_t reported_state_size(int seq_len) const override;
  void forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) override;
  void backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) override;

 private:
  // numbers of the cell's part of one sequence's state: C, n and m of every head
  int64_t cell_state_size() const { return int64_t{H_} * K_ * K_ + int64_t{H_} * K_ + H_; }
  void recurrence_forward(int bh, const real* state_in);
  void recurrence_backward(int bh, const real* dstate_out, real* dstate_in);

  int D_, H_, K_;  // V = K
  int W_;          // conv kernel size; 0 = no conv
  std::unique_ptr<ShortConv> conv_;
  std::unique_ptr<PackedStateConv> packed_conv_;  // conv_ with its tail in the packed state
  std::unique_ptr<Linear> q_proj_, k_proj_, v_proj_, igate_, fgate_, g_proj_, o_proj_;
  Param igate_bias_, fgate_bias_;  // [H] each
  Param skip_;                     // [D] learnable skip, ones
  std::unique_ptr<MultiHeadLayerNorm> outnorm_;

  int B_ = 0, T_ = 0;
  bool has_state_in_ = false;
  RealVector x_;               // [B*T, D] input
  RealVector xc_;              // [B*T, D] SiLU(conv(x)) (only with the conv)
  RealVector q_, k_, v_;       // [B*T, H*K]
  RealVector qkv_;             // [B*T, 3*D] gate input [q; k; v]
  RealVector ig_, fg_;         // [B*T, H] i~, f~
  RealVector C_;               // [B*H, T+1, K, K] C_0..C_T
  RealVector n_;               // [B*H, T+1, K]
  RealVector m_;               // [B*H, T+1]
  RealVector htil_;            // [B*T, H*K] cell output
  RealVector hn_;              // [B*T, D] after the norm
  RealVector gp_;              // [B*T, D] g_proj x (gate pre-activation)
  RealVector u_;               // [B*T, D] o_proj input
  // backward
  RealVector du_, dgp_, dhn_;  // [B*T, D]
  RealVector dxc_;   // [B*T, D]
  RealVector dq_, dk_, dv_;    // [B*T, H*K]
  RealVector dqkv_;            // [B*T, 3*D]
  RealVector dig_, dfg_;       // [B*T, H]
  RealVector ws_;              // [B*H, K*K + 2*K] per-sequence carries dC, dn and a scratch [K]
  RealVector scratch_;         // reduction partials (skip grad)
};

// One head's stabilised mLSTM recurrence over T steps: the mixer's forward, exposed so that
// tests/models_f64/test_xlstm_stabiliser.cpp can feed it chosen pre-activations.
struct MLSTMHeadInputs {
  int T = 0, K = 0;
  const real* q = nullptr;   // [T, stride], K used per row (q, k, v share the stride)
  const real* k = nullptr;   // [T, stride] (unscaled: the recurrence applies 1/sqrt(K))
  const real* v = nullptr;   // [T, stride]
  Index stride = 0;
  const real* ig = nullptr;  // [T, gate_stride] i~
  const real* fg = nullptr;  // [T, gate_stride] f~
  Index gate_stride = 1;
};
// C [T+1, K, K], n [T+1, K], m [T+1] with C_0, n_0, m_0 set on entry; fills steps 1..T and
// out [T, out_stride] (K used per row) with h~_t
void mlstm_head_forward(const MLSTMHeadInputs& in, real* C, real* n, real* m, real* out, Index out_stride);

extern const MixerEntry mlstm_mixer_entry;

}  // namespace db
