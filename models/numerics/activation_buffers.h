// activation_buffers.h: sigmoid and SiLU (forward and backward) over whole buffers, vectorised.
//
// The scalar forms in activations.h call libm's expf once per element (twice in a SiLU backward);
// in a width-64 model that was a tenth of the training step, plus the branchy loops around it that
// the compiler cannot vectorise. These run Eigen's packet exp over fixed 256-element chunks into an
// aligned scratch (so Eigen never peels scalar iterations off the front), which makes a value's
// result depend only on its buffer's length and its index in it, never on addresses. Threads cannot
// change it either: parallel_blocks' cuts depend only on the problem size (parallel.h), and the
// callers that split a buffer cut it at multiples of 4096, so a block even sees the same chunks as
// the whole buffer.
// The scalar forms are the reference; tests/models/test_activation_buffers.cpp compares the two,
// including |x| -> inf.
#pragma once

#include "models/core/types.h"

namespace db {

// s[i] = sigmoid(x[i]), i < n; s may alias x
void sigmoid_buffer(const real* x, real* s, Index n);

// y[i] = silu(x[i]) = x[i] sigmoid(x[i]); y may alias x
void silu_buffer(const real* x, real* y, Index n);

// dx[i] = dy[i] silu'(x[i]) = dy[i] s (1 + x[i] (1 - s)), s = sigmoid(x[i]); dx may alias dy
void silu_backward_buffer(const real* x, const real* dy, real* dx, Index n);

}  // namespace db
