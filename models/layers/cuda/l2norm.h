// l2norm.h: row-wise L2 normalisation on the GPU, y = x / sqrt(sum x^2 + eps), eps inside the sqrt.
//
// Device half of models/layers/l2norm.h, on rows of any buffer. The DeltaNet-family mixers use the
// fused form that also moves q and k into kernel layout (to_heads_l2norm, projected_recurrence.h);
// this plain form is its reference in the tests. rstd = 1/sqrt(sum x^2 + eps) (a sum, not a mean)
// is saved; backward: dx = rstd (dy - (dy . y) y). eps has no default here because this header
// cannot see db::kL2NormEps: callers pass static_cast<float>(kL2NormEps) to match the CPU.
// One block per row, on ctx's stream. Shapes: rows (e.g. B*T*H), dim (e.g. K).
#pragma once

#include "models/cuda/runtime.h"

namespace db::cuda {

// x [rows,dim] -> y [rows,dim] (may alias x), rstd [rows]
void l2norm_forward(const Context& ctx, const float* x, float* y, float* rstd, long long rows, int dim, float eps);
// y, rstd from the forward, dy [rows,dim] -> dx [rows,dim] (overwritten; may alias dy)
void l2norm_backward(const Context& ctx, const float* y, const float* rstd, const float* dy, float* dx,
                     long long rows, int dim);

}  // namespace db::cuda
