// adamw.cpp: AdamW and gradient clipping over the flat arena (see adamw.h).
#include "models/optim/adamw.h"

#include <cmath>

namespace db {

AdamW::AdamW(ParamArena& arena, AdamWConfig config)
    : arena_(arena), config_(config), m_(arena.size(), real(0)), v_(arena.size(), real(0)),
      decay_(arena.size(), 0) {
  for (const auto& p : arena.params())
    if (p.weight_decay)
      for (size_t i = 0; i < p.size; ++i) decay_[p.offset + i] = 1;
}

void AdamW::reset() {
  std::fill(m_.begin(), m_.end(), real(0));
  std::fill(v_.begin(), v_.end(), real(0));
  step_ = 0;
}

void AdamW::step(double lr) {
  ++step_;
  const double b1 = config_.beta1, b2 = config_.beta2;
  const double bias1 = 1.0 - std::pow(b1, static_cast<double>(step_));
  const double bias2 = 1.0 - std::pow(b2, static_cast<double>(step_));
  const double step_size = lr / bias1;
  const double inv_sqrt_bias2 = 1.0 / std::sqrt(bias2);
  const double decay_factor = 1.0 - lr * config_.weight_decay;
  real* p = arena_.data();
  const real* g = arena_.grad();
  const int64_t n = static_cast<int64_t>(arena_.size());
  // elementwise, so any thread split gives identical results
#pragma omp parallel for schedule(static) if (n >= 65536)
  for (int64_t i = 0; i < n; ++i) {
    const double gi = g[i];
    const double mi = b1 * m_[i] + (1.0 - b1) * gi;
    const double vi = b2 * v_[i] + (1.0 - b2) * gi * gi;
    m_[i] = static_cast<real>(mi);
    v_[i] = static_cast<real>(vi);
    double pi = p[i];
    if (decay_[i]) pi *= decay_factor;
    pi -= step_size * mi / (std::sqrt(vi) * inv_sqrt_bias2 + config_.eps);
    p[i] = static_cast<real>(pi);
  }
}

double gradient_norm(const ParamArena& arena) {
  // fixed blocks summed in block order: the same answer for any thread count
  constexpr int64_t kBlocks = 64;
  const int64_t n = static_cast<int64_t>(arena.size());
  const real* g = arena.grad();
  double partial[kBlocks] = {};
#pragma omp parallel for schedule(static) if (n >= 65536)
  for (int64_t b = 0; b < kBlocks; ++b) {
    const int64_t lo = n * b / kBlocks, hi = n * (b + 1) / kBlocks;
    double s = 0.0;
    for (int64_t i = lo; i < hi; ++i) s += static_cast<double>(g[i]) * g[i];
    partial[b] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return std::sqrt(total);
}

double clip_gradient_norm(ParamArena& arena, double max_norm) {
  const double norm = gradient_norm(arena);
  if (max_norm > 0.0 && norm > max_norm) {
    const real scale = static_cast<real>(max_norm / (norm + 1e-6));
    real* g = arena.grad();
    const int64_t n = static_cast<int64_t>(arena.size());
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (int64_t i = 0; i < n; ++i) g[i] *= scale;
  }
  return norm;
}

}  // namespace db
