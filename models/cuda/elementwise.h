// elementwise.h: the residual stream's element-wise kernels (sum of two buffers, accumulate).
// Plain pointers and a stream; compiled by nvcc and the host compiler alike.
#pragma once

#include "models/cuda/runtime.h"

namespace db::cuda {

// out [n] = a + b (out may alias a or b)
void add(const Context& ctx, const float* a, const float* b, float* out, size_t n);

}  // namespace db::cuda
