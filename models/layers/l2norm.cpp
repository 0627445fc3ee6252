// l2norm.cpp: row-wise L2 normalisation and its backward (see l2norm.h).
#include "models/layers/l2norm.h"

#include <cmath>
#include <memory>

#include "models/core/registry.h"
#include "models/layers/parallel.h"

namespace db {

void l2norm_forward(const real* x, real* y, real* rstd, Index rows, int dim, real eps) {
  parallel_blocks(rows, 256, 4 * rows * dim, [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      const real* xr = x + r * dim;
      real* yr = y + r * dim;
      real ss = 0;
      for (int j = 0; j < dim; ++j) ss += xr[j] * xr[j];
      const real rs = real(1) / std::sqrt(ss + eps);
      rstd[r] = rs;
      for (int j = 0; j < dim; ++j) yr[j] = xr[j] * rs;
    }
  });
}

void l2norm_backward(const real* y, const real* rstd, const real* dy, real* dx, Index rows, int dim) {
  parallel_blocks(rows, 256, 4 * rows * dim, [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      const real* yr = y + r * dim;
      const real* gr = dy + r * dim;
      real* dxr = dx + r * dim;
      real dot = 0;
      for (int j = 0; j < dim; ++j) dot += gr[j] * yr[j];
      const real rs = rstd[r];
      for (int j = 0; j < dim; ++j) dxr[j] = rs * (gr[j] - dot * yr[j]);
    }
  });
}

void L2Norm::forward(const real* x, real* y, int B, int T) {
  rows_ = static_cast<Index>(B) * T * H_;
  y_.resize(rows_ * K_);
  rstd_.resize(rows_);
  l2norm_forward(x, y_.data(), rstd_.data(), rows_, K_, eps_);
  std::copy(y_.begin(), y_.end(), y);
}

void L2Norm::backward(const real* dy, real* dx) { l2norm_backward(y_.data(), rstd_.data(), dy, dx, rows_, K_); }

extern const ModuleEntry l2norm_module_entry{"l2norm", "per-head L2 norm, 2 heads of 4, eps 1e-6 inside the sqrt",
                                             [](ParamArena&) { return std::make_unique<L2Norm>(2, 4); }};

}  // namespace db
