// l2norm.h: row-wise L2 normalisation, y = x / sqrt(sum x^2 + eps), eps inside the sqrt.
//
// fla normalises q and k per head inside the delta-rule op (fla/modules/l2norm.py, eps 1e-6 inside
// the sqrt). A [rows, H*K] buffer normalised per head is the [rows*H, K] view of the same memory.
// rstd = 1/sqrt(sum x^2 + eps) is saved; backward: dx = rstd (dy - (dy . y) y).
// Rows are independent and split over threads in fixed blocks.
// Shapes: rows (e.g. B*T*H), dim (e.g. K).
#pragma once

#include <vector>

#include "models/core/module.h"

namespace db {

constexpr double kL2NormEps = 1e-6;

// x [rows,dim] -> y [rows,dim] (may alias x), rstd [rows]
void l2norm_forward(const real* x, real* y, real* rstd, Index rows, int dim, real eps = real(kL2NormEps));
// y, rstd from the forward, dy [rows,dim] -> dx [rows,dim] (overwritten; may alias dy)
void l2norm_backward(const real* y, const real* rstd, const real* dy, real* dx, Index rows, int dim);

}  // namespace db
