// l2norm.cpp: row-wise L2 normalisation and its backward (see l2norm.h).
#include "models/layers/l2norm.h"

#include <cmath>
#include <memory>

#include "models/core/registry.h"
#include "models/numerics/parallel.h"

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

}  // namespace db
