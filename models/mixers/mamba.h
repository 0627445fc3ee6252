// mamba.h: the Mamba (S6) selective state-space layer, as mamba_ssm's Mamba and fla/layers/mamba.py.
//
// With Di = expand * d_model channels, N = d_state, R = dt_rank (0 = ceil(d_model / 16)):
//   [x, z]   = in_proj(h)                               [T, 2 Di] (x first, then z; no bias)
//   u        = SiLU(conv1d(x) + conv_bias)              causal depthwise conv of width d_conv
//   [d, B, C]= x_proj(u)                                [T, R], [T, N], [T, N] (no bias)
//   dt       = softplus(dt_proj.weight d + dt_proj.bias) [T, Di]
//   A        = -exp(A_log)                              [Di, N]
//   a_t      = exp(dt_t A)  (eigen_range [0, 1])  or  2 exp(dt_t A) - 1  (eigen_range [-1, 1])
//   H_t      = a_t * H_{t-1} + (dt_t * u_t) B_t^T       [Di, N] per batch row
//   y_t      = H_t C_t + D * u_t
//   out      = out_proj(y * SiLU(z))                    (no bias)
// The [-1, 1] transition is Grazzi et al. 2025 ("Unlocking State-Tracking in Linear RNNs Through
// Negative Eigenvalues"): their Mamba maps the discretised transition exp(dt A) to 2 exp(dt A) - 1
// and leaves the input term dt B x as it is; the key reads `eigen_range` as DeltaNet's does.
// The scan (models/kernels/selective_scan.h) runs token by token (mode: recurrent, the reference and
// the default) or chunked (mode: chunk), which is exact without dividing by a transition (it may be
// 0 or < 0). The chunked form keeps O(T/C + C) states per row instead of T, at the cost of redoing
// the chunk's states in the backward; on a CPU at the suites' lengths memory is not what binds.
//
// Initialisation as mamba_ssm / fla: A_log = log(1..N) in every channel (S4D-real), D = 1,
// dt_proj.weight ~ U(-R^-0.5 dt_scale, R^-0.5 dt_scale), dt_proj.bias = softplus^-1(dt) with
// dt = exp(U(log dt_min, log dt_max)) clamped >= 1e-4; in/x/out projections ~ N(0, 0.02) (fla's
// _init_weights); the conv keeps PyTorch's Conv1d default, U(-1/sqrt(W), 1/sqrt(W)) for the bias and,
// a deviation, a normal of the same variance (std 1/sqrt(3W)) for the weight, which ShortConv draws.
// A_log, D and the biases have no weight decay.
//
// Carried state per sequence (state_size()): H [Di, N], then the conv tail [(d_conv-1), Di].
// reported_state_size: Di * N, the SSM state; Zoology's Mamba.state_size is 2 * d_model * d_state,
// the same number at its fixed expand = 2 (the conv tail is not counted there either).
// Batch rows run in parallel (OpenMP); the parameter gradients of the scan (A_log, D, conv bias,
// dt_proj.bias) are reduced over rows in a fixed order, so bits do not depend on the thread count.
#pragma once

#include <memory>
#include <vector>

#include "models/core/registry.h"
#include "models/kernels/selective_scan.h"
#include "models/layers/linear.h"
#include "models/layers/short_conv.h"

namespace db {

class MambaMixer : public Mixer {
 public:
  MambaMixer(int d_model, const Options& options, ParamArena& arena);

  int in_dim() const override { return D_; }
  int out_dim() const override { return D_; }
  int64_t state_size() const override { return int64_t{Di_} * N_ + conv_->state_size(); }
  // the SSM state Di * N (Zoology: 2 * d_model * d_state, equal at expand = 2)
  int64_t reported_state_size(int seq_len) const override { return int64_t{Di_} * N_; }
  void forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) override;
  void backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) override;

 private:
  SelectiveScanInputs scan_inputs(int b) const;
  bool parallel_rows() const;

  int D_, Di_, N_, W_, R_;
  bool negative_eigen_, chunked_, use_conv_bias_;
  int chunk_size_;
  std::unique_ptr<Linear> in_proj_, x_proj_, out_proj_;
  std::unique_ptr<ShortConv> conv_;
  Param conv_bias_;        // [Di]
  Param dt_weight_;        // [Di, R] dt_proj.weight
  Param dt_bias_;          // [Di] dt_proj.bias
  Param A_log_;            // [Di, N]
  Param D_skip_;           // [Di] "D"

  int B_ = 0, T_ = 0;
  bool has_state_in_ = false;
  RealVector x_;           // [B*T, D] input
  RealVector xz_;          // [B*T, 2 Di] in_proj output
  RealVector xin_;         // [B*T, Di] the x half, contiguous for the conv
  RealVector v_;           // [B*T, Di] conv output + bias (pre-SiLU)
  RealVector u_;           // [B*T, Di] SiLU(v), the scan input
  RealVector xdbl_;        // [B*T, R + 2N] x_proj output
  RealVector dlow_, Bm_, Cm_;  // [B*T, R], [B*T, N], [B*T, N]
  RealVector dt_raw_, dt_; // [B*T, Di] before / after softplus
  RealVector A_;           // [Di, N] = -exp(A_log)
  RealVector ys_;          // [B*T, Di] scan output H_t C_t
  RealVector yd_;          // [B*T, Di] ys + D * u (before the gate)
  RealVector gate_;        // [B*T, Di] SiLU(z)
  RealVector o_;           // [B*T, Di] yd * gate, the out_proj input
  RealVector h0_, ht_;     // [B, Di, N]
  RealVector conv_in_, conv_out_;  // [B, (W-1) Di]
  std::vector<SelectiveScanWorkspace> ws_;  // [B]
  // backward buffers
  RealVector do_, dyd_;    // [B*T, Di]
  RealVector dxz_;         // [B*T, 2 Di]
  RealVector du_, dv_, dxin_, ddt_;  // [B*T, Di]
  RealVector du_scan_;     // [B*T, Di]
  RealVector dxdbl_;       // [B*T, R + 2N]
  RealVector dB_, dC_;     // [B*T, N]
  RealVector dA_part_;     // [B, Di, N] per-row partials of dL/dA
  RealVector dh0_, dht_;   // [B, Di, N]
  RealVector dconv_in_, dconv_out_;  // [B, (W-1) Di]
};

extern const MixerEntry mamba_mixer_entry;

}  // namespace db
