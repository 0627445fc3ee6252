// hyena_filter.cpp: Hyena's implicit long filter and its backward (see the header).
#include "models/layers/hyena_filter.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace db {

HyenaImplicitFilter::HyenaImplicitFilter(ParamArena& arena, int channels, int l_max, int order, int emb_dim,
                                         int inner, double sin_freq, bool modulate)
    : C_(channels), l_max_(l_max), order_(order), emb_dim_(emb_dim), inner_(inner), modulate_(modulate) {
  ParamArena::Scope f(arena, "implicit_filter");
  for (int j = 0; j <= inner_ + 1; ++j) {
    const int in = j == 0 ? emb_dim_ : order_, out = j == inner_ + 1 ? C_ : order_;
    mlp_.push_back(std::make_unique<Linear>(arena, std::to_string(2 * j), in, out, j <= inner_, 0.02));
    if (j == 0) {
      ParamArena::Scope s(arena, "1");
      freq_ = arena.add("freq", {1, order_}, ParamInit::constant(sin_freq), /*weight_decay=*/false);
    }
  }
  deltas_.resize(C_);
  const double lo = std::log(1e-2) / 1.5, hi = std::log(1e-2) / 0.3;
  for (int c = 0; c < C_; ++c) deltas_[c] = static_cast<real>(std::abs(C_ > 1 ? lo + (hi - lo) * c / (C_ - 1) : lo));
}

const real* HyenaImplicitFilter::forward(int T) {
  T_ = T;
  const double pi = 3.14159265358979323846;
  const int bands = (emb_dim_ - 1) / 2;
  emb_.resize(size_t(T) * emb_dim_);
  for (int t = 0; t < T; ++t) {
    real* e = emb_.data() + size_t(t) * emb_dim_;
    const double tn = l_max_ > 1 ? double(t) / (l_max_ - 1) : 0.0, w = 2 * pi * t / l_max_;
    e[0] = static_cast<real>(tn);
    for (int j = 0; j < bands; ++j) {
      const double f = bands > 1 ? 1e-4 + (bands - 1 - 1e-4) * j / (bands - 1) : 1e-4;
      e[1 + j] = static_cast<real>(std::cos(f * w));
      e[1 + bands + j] = static_cast<real>(-std::sin(f * w));
    }
  }
  pre_.resize(inner_ + 1), act_.resize(inner_ + 1);
  const real* F = freq_.data();
  const real* in = emb_.data();
  for (int j = 0; j <= inner_; ++j) {
    pre_[j].resize(size_t(T) * order_), act_[j].resize(size_t(T) * order_);
    mlp_[j]->apply(in, pre_[j].data(), T);
    for (size_t i = 0; i < pre_[j].size(); ++i) act_[j][i] = std::sin(F[i % order_] * pre_[j][i]);
    in = act_[j].data();
  }
  graw_.resize(size_t(T) * C_), modulation_.resize(size_t(T) * C_), h_.resize(size_t(T) * C_);
  mlp_[inner_ + 1]->apply(in, graw_.data(), T);
  for (int t = 0; t < T; ++t) {
    const double tn = l_max_ > 1 ? double(t) / (l_max_ - 1) : 0.0;
    for (int c = 0; c < C_; ++c) {
      const size_t i = size_t(t) * C_ + c;
      modulation_[i] = modulate_ ? static_cast<real>(std::exp(-tn * deltas_[c])) : real(1);
      h_[i] = graw_[i] * modulation_[i];
    }
  }
  return h_.data();
}

void HyenaImplicitFilter::backward(const real* dh) {
  const int T = T_;
  dgraw_.resize(size_t(T) * C_);
  for (size_t i = 0; i < dgraw_.size(); ++i) dgraw_[i] = dh[i] * modulation_[i];
  dact_.resize(size_t(T) * order_), dpre_.resize(size_t(T) * order_);
  mlp_[inner_ + 1]->apply_backward(act_[inner_].data(), dgraw_.data(), dact_.data(), T);
  const real* F = freq_.data();
  real* dF = freq_.grad();
  for (int j = inner_; j >= 0; --j) {
    for (size_t i = 0; i < dpre_.size(); ++i) {
      const int k = static_cast<int>(i % order_);
      const real cs = std::cos(F[k] * pre_[j][i]) * dact_[i];
      dpre_[i] = cs * F[k];
      dF[k] += cs * pre_[j][i];  // serial: fixed order
    }
    mlp_[j]->apply_backward(j > 0 ? act_[j - 1].data() : emb_.data(), dpre_.data(), j > 0 ? dact_.data() : nullptr, T);
  }
}

HyenaShortFilter::HyenaShortFilter(ParamArena& arena, int width, int W) : width_(width), W_(W) {
  const ParamInit uniform = ParamInit::uniform(1.0 / std::sqrt(double(W)));
  ParamArena::Scope scope(arena, "short_filter");
  weight_ = arena.add("weight", {width, 1, W}, uniform);
  bias_ = arena.add("bias", {width}, uniform, /*weight_decay=*/false);
}

void HyenaShortFilter::forward(const real* u, real* uc, int B, int T) const {
  const int width = width_, W = W_;
  const real* sw = weight_.data();
  const real* sb = bias_.data();
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      real* out = uc + (size_t(b) * T + t) * width;
      for (int c = 0; c < width; ++c) out[c] = sb[c];
      for (int i = 0; i < W; ++i) {
        const int s = t - W + 1 + i;
        if (s < 0) continue;
        const real* src = u + (size_t(b) * T + s) * width;
        for (int c = 0; c < width; ++c) out[c] += sw[size_t(c) * W + i] * src[c];
      }
    }
}

void HyenaShortFilter::backward(const real* u, const real* duc, real* du, int B, int T) {
  const int width = width_, W = W_;
  const real* sw = weight_.data();
  real* dsw = weight_.grad();
  real* dsb = bias_.grad();
  std::fill(du, du + size_t(B) * T * width, real(0));
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const real* g = duc + (size_t(b) * T + t) * width;
      for (int c = 0; c < width; ++c) dsb[c] += g[c];
      for (int i = 0; i < W; ++i) {
        const int s = t - W + 1 + i;
        if (s < 0) continue;
        const size_t off = (size_t(b) * T + s) * width;
        for (int c = 0; c < width; ++c) {
          du[off + c] += sw[size_t(c) * W + i] * g[c];
          dsw[size_t(c) * W + i] += g[c] * u[off + c];
        }
      }
    }
}

}  // namespace db
