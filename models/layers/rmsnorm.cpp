// rmsnorm.cpp: RMSNorm forward and backward (see rmsnorm.h).
//
// Backward, with xhat = x r, r = rstd, y = xhat w:
//   dxhat = dy w,  dx = r (dxhat - xhat mean(dxhat xhat)),  dw += sum_rows dy xhat.
#include "models/layers/rmsnorm.h"

#include <cmath>

#include "models/core/registry.h"
#include "models/numerics/parallel.h"

namespace db {

void rmsnorm_forward(const real* x, const real* w, real* y, real* rstd, Index rows, int dim, real eps) {
  parallel_blocks(rows, 64, 4 * rows * dim, [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      const real* xr = x + r * dim;
      real* yr = y + r * dim;
      real ss = 0;
      for (int j = 0; j < dim; ++j) ss += xr[j] * xr[j];
      const real rs = real(1) / std::sqrt(ss / real(dim) + eps);
      rstd[r] = rs;
      for (int j = 0; j < dim; ++j) yr[j] = xr[j] * rs * w[j];
    }
  });
}

void rmsnorm_backward(const real* x, const real* w, const real* rstd, const real* dy, real* dx, real* dw, Index rows,
                      int dim, RealVector& scratch) {
  auto rows_bwd = [&](Index r0, Index r1, real* dw_part) {
    for (Index r = r0; r < r1; ++r) {
      const real* xr = x + r * dim;
      const real* gr = dy + r * dim;
      real* dxr = dx + r * dim;
      const real rs = rstd[r];
      // c = mean(dxhat * xhat)
      real c = 0;
      for (int j = 0; j < dim; ++j) c += gr[j] * w[j] * xr[j];
      c *= rs / real(dim);
      if (dw_part)
        for (int j = 0; j < dim; ++j) dw_part[j] += gr[j] * xr[j] * rs;
      // reads gr[j] before writing dxr[j], so dx may alias dy
      for (int j = 0; j < dim; ++j) dxr[j] = rs * (gr[j] * w[j] - xr[j] * rs * c);
    }
  };
  if (dw)
    parallel_reduce_rows(rows, dim, dw, scratch, 8 * rows * dim, rows_bwd);
  else
    parallel_blocks(rows, 64, 8 * rows * dim, [&](Index r0, Index r1) { rows_bwd(r0, r1, nullptr); });
}

RMSNorm::RMSNorm(ParamArena& arena, const std::string& name, int dim, double eps)
    : dim_(dim), eps_(static_cast<real>(eps)) {
  ParamArena::Scope scope(arena, name);
  weight = arena.add("weight", {dim}, ParamInit::ones(), /*weight_decay=*/false);
}

void RMSNorm::forward(const real* x, real* y, int B, int T) {
  rows_ = static_cast<Index>(B) * T;
  x_.assign(x, x + rows_ * dim_);
  rstd_.resize(rows_);
  rmsnorm_forward(x, weight.data(), y, rstd_.data(), rows_, dim_, eps_);
}

void RMSNorm::backward(const real* dy, real* dx) {
  rmsnorm_backward(x_.data(), weight.data(), rstd_.data(), dy, dx, weight.grad(), rows_, dim_, scratch_);
}

extern const ModuleEntry rmsnorm_module_entry{"rmsnorm", "RMSNorm over D=6, eps 1e-6", [](ParamArena& arena) {
                                                return std::make_unique<RMSNorm>(arena, "norm", 6, 1e-6);
                                              }};

}  // namespace db
