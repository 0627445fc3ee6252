// slstm.h: the xLSTM sLSTM cell as a token mixer (Beck et al. 2024, "xLSTM: Extended Long
// Short-Term Memory", section 2.2; reference code NX-AI/xlstm, xlstm/blocks/slstm/{layer,cell}.py
// and src/vanilla/slstm.py). Scalar memory cells with exponential input gating, a normaliser and a
// stabiliser, and recurrent connections mixing the cells of one head:
//
//   xc = SiLU(conv(x))       (causal depthwise conv, optional; without it xc = x)      [B,T,D]
//   per step t, per gate g in (i, f, z, o), D = H*K cells in H heads of K:
//     g~_t = W_g u_g + R_g h_{t-1} + b_g,  u = xc for i and f, x for z and o,
//            R_g block-diagonal: one [K, K] block per head (cells mix only inside their head)
//     m_t  = max(log sigmoid(f~_t) + m_{t-1}, i~_t)           stabiliser (per cell)
//     i'_t = exp(i~_t - m_t),  f'_t = exp(log sigmoid(f~_t) + m_{t-1} - m_t)
//     c_t  = f'_t c_{t-1} + i'_t tanh(z~_t),   n_t = f'_t n_{t-1} + i'_t
//     h_t  = sigmoid(o~_t) c_t / n_t
//   y = MultiHeadLayerNorm(h)            [o_proj of it with use_out_proj]
//
// The stabilised c and n are the true ones (input gate exp(i~), forget gate sigmoid(f~)) times
// exp(-m_t), so h_t = o c/n is unchanged; tests/models_f64/test_xlstm_stabiliser.cpp checks one
// head against the naive formulas in long double. The forget gate is the paper's sigmoid one
// (xLSTM's "slstm" function); the exp-forget-gate alternative is not offered.
//
// As in the reference: R starts at zero (recurrent_weight_init "zeros"); biases are zero except the
// forget bias, xLSTM's "powerlaw_blockdependent" init for the first block, b_f[j] = 5 - 12
// (j/(K-1))^0.3 over the K cells of each head (5 when K = 1, where the reference divides by zero);
// i and f read the conv output, z and o the raw input; the output norm is a per-head LayerNorm
// with per-channel weight and no bias, eps 1e-5; the carried state is zeros when none is given.
// Deviations: the gate input projections are full D x D Linear maps with N(0, 0.02) init (the
// reference uses head-wise block-diagonal ones with small_init); the reference's vanilla kernel
// sets m_1 = i~_1 when the incoming n is all zeros, here m_1 = max(log f + m_0, i~) with m_0 = 0
// always (only the internal scale of c and n differs, never h); the conv has no bias (xLSTM's
// CausalConv1d has one, the ShortConv reused here has none).
//
// What of xLSTM's sLSTM block is here: the sLSTM layer (conv, gates, cell, group norm). The block's
// pre-LayerNorm and residual and its gated feed-forward (proj factor 4/3) after the layer are the
// backbone's (models/backbones/model.h: x + mixer(norm(x)), then its optional MLP). The sLSTM layer
// has no output projection; use_out_proj (default off) adds one [D, D] o_proj for backbones run
// without an MLP.
//
// Grazzi et al. 2025 ("Unlocking State-Tracking in Linear RNNs Through Negative Eigenvalues",
// Table 3) run sLSTM as published (their [-1, 1] variants are Mamba's and DeltaNet's only), so there
// is no eigen_range option.
//
// Form: recurrent only (the recurrence is non-linear in h through R); the backward runs through
// time and gives the gradient of R. Carried state per sequence (state_size()): h, c, n, m [D] each,
// then the conv tail [(W-1) * D] when the short conv is on.
// reported_state_size(T) = 4 * D: the four recurrent vectors of every cell, not the conv tail
// (Zoology leaves short-conv tails out of its state sizes).
#pragma once

#include <memory>

#include "models/core/registry.h"
#include "models/layers/linear.h"
#include "models/layers/multi_head_layernorm.h"
#include "models/layers/packed_state_conv.h"
#include "models/layers/short_conv.h"

namespace db {

class SLSTMMixer : public Mixer {
 public:
  SLSTMMixer(int d_model, const Options& options, ParamArena& arena);

  int in_dim() const override { return D_; }
  int out_dim() const override { return D_; }
  int64_t state_size() const override;
  int64_t reported_state_size(int seq_len) const override { return int64_t{4} * D_; }
  void forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) override;
  void backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) override;

 private:
  void recurrence_forward(int bh, const real* state_in);
  void recurrence_backward(int bh, const real* dstate_out, real* dstate_in);

  int D_, H_, K_;
  int W_;  // conv kernel size; 0 = no conv
  std::unique_ptr<ShortConv> conv_;
  std::unique_ptr<PackedStateConv> packed_conv_;  // conv_ with its tail in the packed state
  std::unique_ptr<Linear> gate_[4];  // igate, fgate, zgate, ogate: [D, D] each
  Param R_;                          // [4, H, K, K] recurrent kernel, gate-major, one block per head
  Param bias_;                       // [4, D]
  std::unique_ptr<MultiHeadLayerNorm> norm_;
  std::unique_ptr<Linear> o_proj_;   // only with use_out_proj

  int B_ = 0, T_ = 0;
  RealVector x_;                 // [B*T, D] input
  RealVector xc_;                // [B*T, D] SiLU(conv(x)) (only with the conv)
  RealVector wx_[4];             // [B*T, D] W_g u_g per gate
  RealVector raw_[4];            // [B*T, D] full pre-activations g~ (W u + R h + b)
  RealVector hs_, cs_, ns_, ms_; // [B*H, T+1, K] states h, c, n, m at 0..T
  RealVector hcell_;             // [B*T, D] cell output h_t
  RealVector gn_;                // [B*T, D] normed output (o_proj input)
  // backward
  RealVector dgn_;               // [B*T, D]
  RealVector draw_[4];           // [B*T, D] d g~
  RealVector dxc_;     // [B*T, D]
  RealVector ws_;                // [B*H, 5*K] carries dh, dc, dn, dm and the step's dh
};

// One head's stabilised sLSTM recurrence over T steps: the mixer's forward, exposed so that
// tests/models_f64/test_xlstm_stabiliser.cpp can feed it chosen pre-activations.
struct SLSTMHeadInputs {
  int T = 0, K = 0;
  const real* wx[4] = {};    // [T, stride] W_g u_g of gates i, f, z, o (K used per row)
  Index stride = 0;
  const real* R[4] = {};     // [K, K] this head's recurrent block of each gate
  const real* bias[4] = {};  // [K]
};
// raw[g] [T, stride] receives g~; h, c, n, m [T+1, K] with step 0 set on entry get steps 1..T
void slstm_head_forward(const SLSTMHeadInputs& in, real* const raw[4], real* h, real* c, real* n, real* m);

extern const MixerEntry slstm_mixer_entry;

}  // namespace db
