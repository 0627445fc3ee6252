// h3.h: Zoology's H3 (zoology/mixers/h3/h3.py; Fu et al. 2023, "Hungry Hungry Hippos"), head_dim 1
// (Zoology's default, H = d_model independent channels):
//
//   q, k, v = Wq x + bq, Wk x + bk, Wv x + bv                     [B, T, D]
//   k' = conv(k, s) + Dk * k        shift SSM: s [T, D], s_j = sum_n Bs[n] Cs[n+j] for j < N, 0 beyond
//                                   (SSKernelShift; Bs initialised to e_0, so s starts as Cs)
//   u = k' * v
//   o = conv(u, K) + Dd * u         diagonal SSM (S4D, SSKernelDiag, bilinear discretisation):
//       K_l = 2 Re sum_{n < N/2} G_n z_n^l,   A_n = -exp(inv_A_real_n) + i A_imag_n,  dt = exp(log_dt),
//       z_n = (1 + dt A_n / 2) / (1 - dt A_n / 2),   G_n = B_n C_n dt / (1 - dt A_n / 2)
//   y = output_linear(o * q)
// conv is the causal long convolution of models/kernels/long_conv.h (direct or FFT by length); the
// SSM kernels are computed for the whole sequence length (Zoology's l_max = None: a global kernel),
// so any T is accepted. Initialisation as Zoology's (S4D-Lin): inv_A_real = log 0.5, A_imag = pi n,
// B = 1, C ~ complex N(0, 1), log_dt ~ U(log 1e-3, log 1e-1), Cs ~ U(+-1/sqrt(N)) (Conv1d's), Dk, Dd ~
// N(0, 1); the SSM parameters B, inv_A_real, A_imag, log_dt, Bs get no weight decay (Zoology registers
// them with wd 0). Complex parameters are stored as (re, im) pairs, Zoology's view_as_real layout.
// Not done: head_dim > 1 (the outer-product heads), Zoology's per-parameter SSM learning rate.
// State: H3 is recurrent, but this is the convolutional form; carrying the SSM states across calls
// would need the state-augmented kernels, so state_size() = 0 (like softmax attention; split runs are
// refused). reported_state_size is Zoology's H3.state_size: d_model * d_state.
#pragma once

#include <memory>

#include "models/core/registry.h"
#include "models/layers/linear.h"

namespace db {

class H3Mixer : public Mixer {
 public:
  H3Mixer(int d_model, const Options& options, ParamArena& arena);

  int in_dim() const override { return D_; }
  int out_dim() const override { return D_; }
  int64_t state_size() const override { return 0; }
  int64_t reported_state_size(int seq_len) const override { return int64_t{D_} * N_; }
  void forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) override;
  void backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) override;

 private:
  void kernels_forward(int T);   // -> shift_, ssm_
  void kernels_backward(int T);  // dshift_, dssm_ -> SSM parameter gradients

  int D_, N_;  // channels, d_state (the diagonal SSM has N/2 complex modes)
  std::unique_ptr<Linear> q_proj_, k_proj_, v_proj_, out_proj_;
  Param shift_B_, shift_C_, shift_D_;           // [D, N], [1, D, N], [D]
  Param C_, log_dt_, B_, inv_A_real_, A_imag_;  // [1, D, N/2, 2], [D], [D, N/2, 2], [D, N/2], [D, N/2]
  Param Dd_;                                    // [D]

  int Bn_ = 0, T_ = 0;
  RealVector x_, q_, k_, v_;   // [B*T, D]
  RealVector kp_, u_, o_, g_;  // [B*T, D] k', k' * v, SSM output, o * q
  RealVector shift_, ssm_;     // [T, D] the two filters, tap-major
  RealVector dg_, do_, du_, dkp_, dk_, dq_, dv_;  // [B*T, D]
  RealVector dshift_, dssm_;   // [T, D]
};

extern const MixerEntry h3_mixer_entry;

}  // namespace db
