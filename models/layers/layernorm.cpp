// layernorm.cpp: LayerNorm forward and backward (see layernorm.h).
//
// Backward, with xhat = (x - mean) r:
//   dxhat = dy w,  dx = r (dxhat - mean(dxhat) - xhat mean(dxhat xhat)),
//   dw += sum_rows dy xhat,  db += sum_rows dy.
#include "models/layers/layernorm.h"

#include <cmath>

#include "models/core/registry.h"
#include "models/numerics/parallel.h"

namespace db {

LayerNorm::LayerNorm(ParamArena& arena, const std::string& name, int dim, double eps)
    : dim_(dim), eps_(static_cast<real>(eps)) {
  ParamArena::Scope scope(arena, name);
  weight = arena.add("weight", {dim}, ParamInit::ones(), /*weight_decay=*/false);
  bias = arena.add("bias", {dim}, ParamInit::zeros(), /*weight_decay=*/false);
}

void LayerNorm::forward(const real* x, real* y, int B, int T) {
  rows_ = static_cast<Index>(B) * T;
  xhat_.resize(rows_ * dim_);
  rstd_.resize(rows_);
  const real* w = weight.data();
  const real* b = bias.data();
  const int D = dim_;
  parallel_blocks(rows_, 64, 8 * rows_ * D, [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      const real* xr = x + r * D;
      real* hr = xhat_.data() + r * D;
      real* yr = y + r * D;
      real mean = 0;
      for (int j = 0; j < D; ++j) mean += xr[j];
      mean /= real(D);
      real var = 0;
      for (int j = 0; j < D; ++j) var += (xr[j] - mean) * (xr[j] - mean);
      var /= real(D);
      const real rs = real(1) / std::sqrt(var + eps_);
      rstd_[r] = rs;
      for (int j = 0; j < D; ++j) {
        hr[j] = (xr[j] - mean) * rs;
        yr[j] = hr[j] * w[j] + b[j];
      }
    }
  });
}

void LayerNorm::backward(const real* dy, real* dx) {
  const real* w = weight.data();
  const int D = dim_;
  // partial layout [dw (D) | db (D)]: the two gradients are not adjacent in the arena, so reduce
  // into one [2D] vector and then add it into both
  RealVector& dwdb = dwdb_;
  dwdb.assign(2 * D, real(0));
  parallel_reduce_rows(rows_, 2 * D, dwdb.data(), scratch_, 8 * rows_ * D, [&](Index r0, Index r1, real* part) {
    for (Index r = r0; r < r1; ++r) {
      const real* hr = xhat_.data() + r * D;
      const real* gr = dy + r * D;
      real* dxr = dx + r * D;
      real m1 = 0, m2 = 0;  // mean(dxhat), mean(dxhat xhat)
      for (int j = 0; j < D; ++j) {
        const real g = gr[j] * w[j];
        m1 += g;
        m2 += g * hr[j];
        part[j] += gr[j] * hr[j];
        part[D + j] += gr[j];
      }
      m1 /= real(D);
      m2 /= real(D);
      const real rs = rstd_[r];
      for (int j = 0; j < D; ++j) dxr[j] = rs * (gr[j] * w[j] - m1 - hr[j] * m2);
    }
  });
  real* gw = weight.grad();
  real* gb = bias.grad();
  for (int j = 0; j < D; ++j) {
    gw[j] += dwdb[j];
    gb[j] += dwdb[D + j];
  }
}

extern const ModuleEntry layernorm_module_entry{"layernorm", "LayerNorm over D=6, eps 1e-5", [](ParamArena& arena) {
                                                  return std::make_unique<LayerNorm>(arena, "norm", 6, 1e-5);
                                                }};

}  // namespace db
