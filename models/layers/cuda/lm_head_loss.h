// lm_head_loss.h (cuda): the kernels of the LM head and cross-entropy on the GPU, the pieces around
// the GEMMs of GpuLmHeadLoss (gpu_lm_head_loss.h), and the gather / scatter of labelled rows.
//
// The head runs only at labelled positions: the final hidden rows with a target are gathered into
// [M, D], the logits of a block of those rows are one [rows, N] tile, and one block of threads per
// row turns its logits into the loss, the argmax and (for training) the gradient of the logits, in
// place (or, in bf16 runs, into a bf16 tile). Every sum is a fixed tree or a fixed sequence (no atomics), so the bits are the same on
// every run. Plain device pointers, queued on the context's stream; this header is compiled by
// nvcc (C++17) as well as by the host compiler.
// Shapes: M labelled rows, D width, N vocabulary, n = B*T positions of the final hidden state.
#pragma once

#include <cstddef>
#include <cstdint>

#include "models/cuda/runtime.h"

namespace db::cuda {

// logits [rows, N]: in, hidden W^T without the bias; bias [N] (or null) is added first. Per row r:
//   argmax[r] = the first index of the largest logit (Eigen's maxCoeff, the CPU's rule); null to skip
//   row_loss[r] = log(sum exp(z - max)) - (z[target] - max)  (the sum in float, the rest in double)
// and when grad_scale != 0 the tile is overwritten with grad_scale * (softmax(z) - onehot(target)),
// the gradient of grad_scale * sum(loss); when grad_scale is 0 the tile is scratch afterwards.
// targets [rows] must lie in [0, N) (the host checks them).
void head_softmax_cross_entropy(const Context& ctx, float* logits, const float* bias, int rows, int N,
                                const int32_t* targets, int32_t* argmax, double* row_loss, float grad_scale);
// the same, the gradient written rounded to bf16 into dlogits [rows, N] instead (bf16 runs: the
// GEMMs that read it take bf16 operands); logits are then scratch
void head_softmax_cross_entropy(const Context& ctx, float* logits, const float* bias, int rows, int N,
                                const int32_t* targets, int32_t* argmax, double* row_loss, float grad_scale,
                                bf16* dlogits);

// *total = the sum of row_loss [M], in a fixed order (overwritten; 0 for M = 0)
void sum_row_losses(const Context& ctx, const double* row_loss, long long M, double* total);

// out [rows, N] += bias [N] on every row
void add_row_bias(const Context& ctx, float* out, const float* bias, long long rows, int N);

// dst [n] += src [n]
void add_in_place(const Context& ctx, const float* src, float* dst, size_t n);

// gathered [M, D] = rows positions[m] of x [n, D] (flat positions b*T + t); the bf16 form rounds
void gather_rows(const Context& ctx, const float* x, const int64_t* positions, long long M, int D, float* gathered);
void gather_rows(const Context& ctx, const float* x, const int32_t* positions, long long M, int D, float* gathered);
void gather_rows(const Context& ctx, const float* x, const int32_t* positions, long long M, int D, bf16* gathered);

// rows positions[m] of x [n, D] = rows of src [M, D]. The positions are distinct, so nothing is
// summed; the other rows of x are untouched (zero them first for a gradient, as the CPU model does).
void scatter_rows(const Context& ctx, const float* src, const int64_t* positions, long long M, int D, float* x);
void scatter_rows(const Context& ctx, const float* src, const int32_t* positions, long long M, int D, float* x);

}  // namespace db::cuda
