// h3.cpp: Zoology's H3, a shift SSM and a diagonal SSM run as long convolutions (see the header).
#include "models/mixers/h3.h"

#include <fmt/format.h>

#include <cmath>
#include <complex>
#include <stdexcept>

#include "models/kernels/long_conv.h"

namespace db {

namespace {
using cplx = std::complex<double>;  // the SSM kernel is built in double and rounded once
}

H3Mixer::H3Mixer(int d_model, const Options& o, ParamArena& arena)
    : D_(d_model), N_(static_cast<int>(o.get_int("d_state"))) {
  if (N_ < 2 || N_ % 2) throw ConfigError("d_state", "'d_state' must be even and >= 2");
  const int M = N_ / 2;
  q_proj_ = std::make_unique<Linear>(arena, "q_proj", D_, D_, true, 0.02);
  k_proj_ = std::make_unique<Linear>(arena, "k_proj", D_, D_, true, 0.02);
  v_proj_ = std::make_unique<Linear>(arena, "v_proj", D_, D_, true, 0.02);
  const int N = N_;
  {
    ParamArena::Scope s(arena, "ssm_k_kernel");
    ParamArena::Scope k(arena, "kernel");
    shift_B_ = arena.add("B", {D_, N_}, ParamInit::custom([N](real* p, size_t n, Rng&) {
                           for (size_t i = 0; i < n; ++i) p[i] = (i % N == 0) ? real(1) : real(0);
                         }), /*weight_decay=*/false);
    shift_C_ = arena.add("C", {1, D_, N_}, ParamInit::uniform(1.0 / std::sqrt(double(N_))));
  }
  shift_D_ = arena.add("ssm_k_D", {D_}, ParamInit::normal(1.0));
  {
    ParamArena::Scope s(arena, "kernel");
    ParamArena::Scope k(arena, "kernel");
    C_ = arena.add("C", {1, D_, M, 2}, ParamInit::normal(std::sqrt(0.5)));
    log_dt_ = arena.add("log_dt", {D_}, ParamInit::custom([](real* p, size_t n, Rng& rng) {
                          for (size_t i = 0; i < n; ++i)
                            p[i] = static_cast<real>(rng.uniform(std::log(1e-3), std::log(1e-1)));
                        }), /*weight_decay=*/false);
    B_ = arena.add("B", {D_, M, 2}, ParamInit::custom([](real* p, size_t n, Rng&) {
                     for (size_t i = 0; i < n; ++i) p[i] = (i % 2 == 0) ? real(1) : real(0);
                   }), /*weight_decay=*/false);
    inv_A_real_ = arena.add("inv_A_real", {D_, M}, ParamInit::constant(std::log(0.5)), /*weight_decay=*/false);
    A_imag_ = arena.add("A_imag", {D_, M}, ParamInit::custom([M](real* p, size_t n, Rng&) {
                          const double pi = 3.14159265358979323846;
                          for (size_t i = 0; i < n; ++i) p[i] = static_cast<real>(pi * double(i % M));
                        }), /*weight_decay=*/false);
  }
  Dd_ = arena.add("D", {D_}, ParamInit::normal(1.0));
  out_proj_ = std::make_unique<Linear>(arena, "output_linear", D_, D_, true, 0.02);
}

void H3Mixer::kernels_forward(int T) {
  const int M = N_ / 2;
  shift_.assign(size_t(T) * D_, real(0));
  ssm_.resize(size_t(T) * D_);
  const real *Bs = shift_B_.data(), *Cs = shift_C_.data();
  for (int c = 0; c < D_; ++c)
    for (int j = 0; j < std::min(T, N_); ++j) {
      double s = 0;
      for (int n = 0; n + j < N_; ++n) s += double(Bs[size_t(c) * N_ + n]) * Cs[size_t(c) * N_ + n + j];
      shift_[size_t(j) * D_ + c] = static_cast<real>(s);
    }
  const real *C = C_.data(), *B = B_.data(), *iar = inv_A_real_.data(), *aim = A_imag_.data();
  for (int c = 0; c < D_; ++c) {
    const double dt = std::exp(double(log_dt_.data()[c]));
    std::vector<double> K(T, 0.0);
    for (int n = 0; n < M; ++n) {
      const size_t i = size_t(c) * M + n;
      const cplx A(-std::exp(double(iar[i])), double(aim[i]));
      const cplx q = A * dt, den = 1.0 - q / 2.0;
      const cplx z = (1.0 + q / 2.0) / den;
      const cplx G = cplx(B[2 * i], B[2 * i + 1]) * cplx(C[2 * i], C[2 * i + 1]) * dt / den;
      cplx p = G;  // G z^l
      for (int l = 0; l < T; ++l, p *= z) K[l] += 2.0 * p.real();
    }
    for (int l = 0; l < T; ++l) ssm_[size_t(l) * D_ + c] = static_cast<real>(K[l]);
  }
}

void H3Mixer::kernels_backward(int T) {
  const int M = N_ / 2;
  const real *Bs = shift_B_.data(), *Cs = shift_C_.data();
  real *dBs = shift_B_.grad(), *dCs = shift_C_.grad();
  for (int c = 0; c < D_; ++c)
    for (int j = 0; j < std::min(T, N_); ++j) {
      const real g = dshift_[size_t(j) * D_ + c];
      for (int n = 0; n + j < N_; ++n) {
        dBs[size_t(c) * N_ + n] += g * Cs[size_t(c) * N_ + n + j];
        dCs[size_t(c) * N_ + n + j] += g * Bs[size_t(c) * N_ + n];
      }
    }
  const real *C = C_.data(), *B = B_.data(), *iar = inv_A_real_.data(), *aim = A_imag_.data();
  real *dC = C_.grad(), *dB = B_.grad(), *diar = inv_A_real_.grad(), *daim = A_imag_.grad(), *dlog_dt = log_dt_.grad();
  for (int c = 0; c < D_; ++c) {
    const double dt = std::exp(double(log_dt_.data()[c]));
    double ddt = 0;
    for (int n = 0; n < M; ++n) {
      const size_t i = size_t(c) * M + n;
      const double ea = std::exp(double(iar[i]));
      const cplx A(-ea, double(aim[i]));
      const cplx q = A * dt, den = 1.0 - q / 2.0;
      const cplx z = (1.0 + q / 2.0) / den;
      const cplx Bc(B[2 * i], B[2 * i + 1]), Cc(C[2 * i], C[2 * i + 1]);
      const cplx G = Bc * Cc * dt / den;
      // Wirtinger-style gradients g_w = df/dRe w + i df/dIm w; K_l = 2 Re(G z^l):
      //   g_G = 2 sum_l dK_l conj(z)^l,   g_z = 2 conj(G) sum_{l>=1} dK_l l conj(z)^{l-1}
      cplx gG(0), sz(0), zl(1), zl1(1);  // zl = conj(z)^l, zl1 = conj(z)^{l-1}
      const cplx zc = std::conj(z);
      for (int l = 0; l < T; ++l) {
        const double dk = dssm_[size_t(l) * D_ + c];
        gG += dk * zl;
        if (l >= 1) {
          sz += dk * double(l) * zl1;
          zl1 *= zc;
        }
        zl *= zc;
      }
      gG *= 2.0;
      const cplx gz = 2.0 * std::conj(G) * sz;
      // G = B C dt / den, z = (1 + q/2) / den, q = A dt: dG/dq = G / (2 den), dz/dq = 1 / den^2
      const cplx gB = gG * std::conj(Cc * dt / den), gC = gG * std::conj(Bc * dt / den);
      const cplx gq = gG * std::conj(G / (2.0 * den)) + gz * std::conj(1.0 / (den * den));
      const cplx gA = gq * dt;
      dB[2 * i] += static_cast<real>(gB.real()), dB[2 * i + 1] += static_cast<real>(gB.imag());
      dC[2 * i] += static_cast<real>(gC.real()), dC[2 * i + 1] += static_cast<real>(gC.imag());
      diar[i] += static_cast<real>(gA.real() * -ea);  // Re A = -exp(inv_A_real)
      daim[i] += static_cast<real>(gA.imag());
      // dt enters G directly (B C / den) and through q (A)
      ddt += (gG * std::conj(Bc * Cc / den)).real() + (gq * std::conj(A)).real();
    }
    dlog_dt[c] += static_cast<real>(ddt * dt);
  }
}

void H3Mixer::forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) {
  if (state_in || state_out) throw std::logic_error("h3 (convolutional form) cannot carry a fixed-size state");
  Bn_ = B, T_ = T;
  const Index rows = Index(B) * T, n = rows * D_;
  x_.assign(x, x + n);
  q_.resize(n), k_.resize(n), v_.resize(n), kp_.resize(n), u_.resize(n), o_.resize(n), g_.resize(n);
  q_proj_->apply(x, q_.data(), rows);
  k_proj_->apply(x, k_.data(), rows);
  v_proj_->apply(x, v_.data(), rows);
  kernels_forward(T);
  long_conv_forward(k_.data(), shift_.data(), kp_.data(), B, T, D_);
  const real *Dk = shift_D_.data(), *Dd = Dd_.data();
  for (Index i = 0; i < n; ++i) {
    kp_[i] += Dk[i % D_] * k_[i];
    u_[i] = kp_[i] * v_[i];
  }
  long_conv_forward(u_.data(), ssm_.data(), o_.data(), B, T, D_);
  for (Index i = 0; i < n; ++i) {
    o_[i] += Dd[i % D_] * u_[i];
    g_[i] = o_[i] * q_[i];
  }
  out_proj_->apply(g_.data(), y, rows);
}

void H3Mixer::backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) {
  (void)dstate_out, (void)dstate_in;
  const int B = Bn_, T = T_;
  const Index rows = Index(B) * T, n = rows * D_;
  dg_.resize(n), do_.resize(n), du_.resize(n), dkp_.resize(n), dk_.resize(n), dq_.resize(n), dv_.resize(n);
  dshift_.resize(size_t(T) * D_), dssm_.resize(size_t(T) * D_);
  out_proj_->apply_backward(g_.data(), dy, dg_.data(), rows);
  for (Index i = 0; i < n; ++i) {
    do_[i] = dg_[i] * q_[i];
    dq_[i] = dg_[i] * o_[i];
  }
  long_conv_backward(u_.data(), ssm_.data(), do_.data(), du_.data(), dssm_.data(), B, T, D_);
  const real *Dk = shift_D_.data(), *Dd = Dd_.data();
  real *dDk = shift_D_.grad(), *dDd = Dd_.grad();
  for (Index i = 0; i < n; ++i) {  // serial: the D gradients sum in a fixed order
    dDd[i % D_] += do_[i] * u_[i];
    du_[i] += Dd[i % D_] * do_[i];
    dkp_[i] = du_[i] * v_[i];
    dv_[i] = du_[i] * kp_[i];
  }
  long_conv_backward(k_.data(), shift_.data(), dkp_.data(), dk_.data(), dshift_.data(), B, T, D_);
  for (Index i = 0; i < n; ++i) {
    dDk[i % D_] += dkp_[i] * k_[i];
    dk_[i] += Dk[i % D_] * dkp_[i];
  }
  kernels_backward(T);
  q_proj_->apply_backward(x_.data(), dq_.data(), dx, rows);
  k_proj_->apply_backward(x_.data(), dk_.data(), dx, rows, true);
  v_proj_->apply_backward(x_.data(), dv_.data(), dx, rows, true);
}

const MixerEntry h3_mixer_entry{
    "h3",
    "Zoology's H3: shift SSM on k, diagonal (S4D) SSM over k*v, gated by q; both SSMs as long convolutions",
    {
        {"d_state", int64_t{64}, "SSM state size N per channel (even; the diagonal SSM has N/2 complex modes, "
                                 "the shift SSM's filter has N taps)"},
    },
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<H3Mixer>(d_model, o, a);
    },
    {
        {{"d_state", int64_t{4}}},
        {{"d_state", int64_t{10}}},
    },
};

}  // namespace db
