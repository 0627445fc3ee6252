// based.cpp: Based's Taylor-feature linear attention with its normaliser (see the header).
#include "models/mixers/based.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace db {

namespace {

// below this many state updates (B*H*T*F*V) the sequences run on one thread: forking costs more
constexpr int64_t kParallelWork = int64_t(1) << 16;

}  // namespace

BasedMixer::BasedMixer(int d_model, const Options& o, ParamArena& arena)
    : D_(d_model),
      H_(static_cast<int>(o.get_int("num_heads"))),
      f_(static_cast<int>(o.get_int("feature_dim"))),
      eps_(static_cast<real>(o.get_double("eps"))) {
  if (H_ < 1 || d_model % H_ != 0)
    throw ConfigError("num_heads", fmt::format("d_model {} must be divisible by num_heads {}", d_model, H_));
  if (f_ < 1) throw ConfigError("feature_dim", "'feature_dim' must be >= 1");
  if (!(eps_ >= 0)) throw ConfigError("eps", "'eps' must be >= 0");
  V_ = d_model / H_;
  F_ = 1 + f_ + f_ * (f_ + 1) / 2;
  const double sf = std::sqrt(double(f_));
  lin_scale_ = static_cast<real>(1.0 / std::sqrt(sf));
  diag_scale_ = static_cast<real>(1.0 / (std::sqrt(2.0) * sf));
  pair_scale_ = static_cast<real>(1.0 / sf);
  const double std = 0.02;
  q_proj_ = std::make_unique<Linear>(arena, "q_proj", D_, H_ * f_, false, std);
  k_proj_ = std::make_unique<Linear>(arena, "k_proj", D_, H_ * f_, false, std);
  v_proj_ = std::make_unique<Linear>(arena, "v_proj", D_, H_ * V_, false, std);
  o_proj_ = std::make_unique<Linear>(arena, "o_proj", H_ * V_, D_, false, std);
}

// layout of phi: [1 | x_i, i < f | x_i^2 diagonal | x_i x_j for i > j, row by row]
void BasedMixer::feature_map(const real* x, real* out) const {
  out[0] = 1;
  for (int i = 0; i < f_; ++i) out[1 + i] = x[i] * lin_scale_;
  for (int i = 0; i < f_; ++i) out[1 + f_ + i] = x[i] * x[i] * diag_scale_;
  real* pair = out + 1 + 2 * f_;
  for (int i = 1; i < f_; ++i)
    for (int j = 0; j < i; ++j) *pair++ = x[i] * x[j] * pair_scale_;
}

void BasedMixer::feature_map_backward(const real* x, const real* dphi, real* dx) const {
  for (int i = 0; i < f_; ++i) dx[i] = dphi[1 + i] * lin_scale_ + dphi[1 + f_ + i] * real(2) * x[i] * diag_scale_;
  const real* pair = dphi + 1 + 2 * f_;
  for (int i = 1; i < f_; ++i)
    for (int j = 0; j < i; ++j) {
      const real d = *pair++ * pair_scale_;
      dx[i] += d * x[j];
      dx[j] += d * x[i];
    }
}

void BasedMixer::forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) {
  B_ = B, T_ = T;
  const Index rows = Index(B) * T;
  const int Hf = H_ * f_, HV = H_ * V_, BH = B * H_, F = F_, V = V_;
  const int64_t S = state_size(), nS = int64_t{H_} * F * V, nZ = int64_t{H_} * F;
  auto sized = [](RealVector& v, size_t n) { v.resize(n); return v.data(); };
  x_.assign(x, x + rows * D_);
  q_proj_->apply(x, sized(qp_, rows * Hf), rows);
  k_proj_->apply(x, sized(kp_, rows * Hf), rows);
  v_proj_->apply(x, sized(vp_, rows * HV), rows);

  has_state_in_ = state_in != nullptr;
  sized(st_, size_t(BH) * F * V), sized(zt_, size_t(BH) * F);
  if (state_in) {
    sized(s0_, size_t(BH) * F * V), sized(z0_, size_t(BH) * F);
    for (int b = 0; b < B; ++b) {
      std::copy_n(state_in + b * S, nS, s0_.data() + b * nS);
      std::copy_n(state_in + b * S + nS, nZ, z0_.data() + b * nZ);
    }
  }
  sized(phq_, size_t(BH) * T * F), sized(phk_, size_t(BH) * T * F);
  sized(den_, size_t(BH) * T), sized(yh_, size_t(BH) * T * V), sized(y_, rows * HV);
  const bool parallel = BH > 1 && int64_t(BH) * T * F * V >= kParallelWork;

#pragma omp parallel for schedule(static) if (parallel)
  for (int bh = 0; bh < BH; ++bh) {
    const int b = bh / H_, h = bh % H_;
    MatMap St(st_.data() + size_t(bh) * F * V, F, V);  // S_t [F, V]
    VecMap zt(zt_.data() + size_t(bh) * F, F);         // z_t [F]
    if (has_state_in_) {
      St = ConstMatMap(s0_.data() + size_t(bh) * F * V, F, V);
      zt = ConstVecMap(z0_.data() + size_t(bh) * F, F);
    } else {
      St.setZero(), zt.setZero();
    }
    for (int t = 0; t < T; ++t) {
      const Index row = Index(b) * T + t;
      const size_t p = size_t(bh) * T + t;
      real* pq = phq_.data() + p * F;
      real* pk = phk_.data() + p * F;
      feature_map(qp_.data() + row * Hf + h * f_, pq);
      feature_map(kp_.data() + row * Hf + h * f_, pk);
      ConstVecMap phk(pk, F), phq(pq, F), v(vp_.data() + row * HV + h * V, V);
      St.noalias() += phk * v.transpose();
      zt += phk;
      const real den = phq.dot(zt) + eps_;
      den_[p] = den;
      VecMap yt(yh_.data() + p * V, V);
      yt.noalias() = (St.transpose() * phq) / den;
      std::copy_n(yt.data(), V, y_.data() + row * HV + h * V);
    }
  }
  o_proj_->apply(y_.data(), y, rows);
  if (state_out)
    for (int b = 0; b < B; ++b) {
      std::copy_n(st_.data() + b * nS, nS, state_out + b * S);
      std::copy_n(zt_.data() + b * nZ, nZ, state_out + b * S + nS);
    }
}

void BasedMixer::backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) {
  const int B = B_, T = T_;
  const Index rows = Index(B) * T;
  const int Hf = H_ * f_, HV = H_ * V_, BH = B * H_, F = F_, V = V_;
  const int64_t S = state_size(), nS = int64_t{H_} * F * V, nZ = int64_t{H_} * F;
  auto sized = [](RealVector& v, size_t n) { v.resize(n); return v.data(); };
  o_proj_->apply_backward(y_.data(), dy, sized(dy_, rows * HV), rows, false);
  sized(dnum_, size_t(BH) * T * V), sized(dden_, size_t(BH) * T);
  sized(dphq_, size_t(BH) * T * F), sized(dphk_, size_t(BH) * T * F);
  sized(ds_, size_t(BH) * F * V), sized(dz_, size_t(BH) * F), sized(scratch_, size_t(BH) * F);
  sized(dqp_, rows * Hf), sized(dkp_, rows * Hf), sized(dvp_, rows * HV);
  const bool parallel = BH > 1 && int64_t(BH) * T * F * V >= kParallelWork;

#pragma omp parallel for schedule(static) if (parallel)
  for (int bh = 0; bh < BH; ++bh) {
    const int b = bh / H_, h = bh % H_;
    MatMap Sm(ds_.data() + size_t(bh) * F * V, F, V);  // first S_t (forward again), then dL/dS_t
    VecMap zm(dz_.data() + size_t(bh) * F, F);         // dL/dz_t in the reverse pass
    VecMap zrun(scratch_.data() + size_t(bh) * F, F);  // z_t in the forward pass
    if (has_state_in_) {
      Sm = ConstMatMap(s0_.data() + size_t(bh) * F * V, F, V);
      zrun = ConstVecMap(z0_.data() + size_t(bh) * F, F);
    } else {
      Sm.setZero(), zrun.setZero();
    }
    // forward again: y_t = num_t / den_t reads S_t and z_t
    for (int t = 0; t < T; ++t) {
      const Index row = Index(b) * T + t;
      const size_t p = size_t(bh) * T + t;
      ConstVecMap phk(phk_.data() + p * F, F), v(vp_.data() + row * HV + h * V, V);
      ConstVecMap dyt(dy_.data() + row * HV + h * V, V), yt(yh_.data() + p * V, V);
      Sm.noalias() += phk * v.transpose();
      zrun += phk;
      VecMap dnum(dnum_.data() + p * V, V);
      dnum = dyt / den_[p];
      const real dden = -dyt.dot(yt) / den_[p];
      dden_[p] = dden;
      VecMap(dphq_.data() + p * F, F).noalias() = Sm * dnum + dden * zrun;
    }
    // backwards: dS, dz collect every later read, starting from the final-state gradient
    if (dstate_out) {
      Sm = ConstMatMap(dstate_out + b * S + size_t(h) * F * V, F, V);
      zm = ConstVecMap(dstate_out + b * S + nS + size_t(h) * F, F);
    } else {
      Sm.setZero(), zm.setZero();
    }
    for (int t = T - 1; t >= 0; --t) {
      const Index row = Index(b) * T + t;
      const size_t p = size_t(bh) * T + t;
      ConstVecMap phq(phq_.data() + p * F, F), phk(phk_.data() + p * F, F);
      ConstVecMap v(vp_.data() + row * HV + h * V, V), dnum(dnum_.data() + p * V, V);
      Sm.noalias() += phq * dnum.transpose();
      zm += dden_[p] * phq;
      VecMap(dphk_.data() + p * F, F).noalias() = Sm * v + zm;
      VecMap(dvp_.data() + row * HV + h * V, V).noalias() = Sm.transpose() * phk;
    }
    for (int t = 0; t < T; ++t) {
      const Index row = Index(b) * T + t;
      const size_t p = size_t(bh) * T + t;
      feature_map_backward(qp_.data() + row * Hf + h * f_, dphq_.data() + p * F, dqp_.data() + row * Hf + h * f_);
      feature_map_backward(kp_.data() + row * Hf + h * f_, dphk_.data() + p * F, dkp_.data() + row * Hf + h * f_);
    }
  }
  q_proj_->apply_backward(x_.data(), dqp_.data(), dx, rows, false);
  k_proj_->apply_backward(x_.data(), dkp_.data(), dx, rows, true);
  v_proj_->apply_backward(x_.data(), dvp_.data(), dx, rows, true);
  if (dstate_in)
    for (int b = 0; b < B; ++b) {
      std::copy_n(ds_.data() + b * nS, nS, dstate_in + b * S);
      std::copy_n(dz_.data() + b * nZ, nZ, dstate_in + b * S + nS);
    }
}

const MixerEntry based_mixer_entry{
    "based",
    "Based linear attention (Zoology based.py): 2nd-order Taylor feature map with normaliser",
    {
        {"num_heads", int64_t{1}, "heads H (= Zoology's num_heads = num_key_value_heads); value dim d_model / H"},
        {"feature_dim", int64_t{16}, "feature dim f of q and k per head; the Taylor map has 1 + f + f(f+1)/2 features"},
        {"eps", 1e-12, "added to the normaliser phi(q) . z"},
    },
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<BasedMixer>(d_model, o, a);
    },
    {
        {{"feature_dim", int64_t{4}}},
        {{"num_heads", int64_t{2}}, {"feature_dim", int64_t{3}}},
    },
};

}  // namespace db
