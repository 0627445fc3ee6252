// column_sums.cu: fixed-order column sums (see column_sums.h).
#include "models/cuda/activation_io.cuh"
#include "models/cuda/column_sums.h"
#include "models/cuda/reduce.cuh"

namespace db::cuda {

namespace {

// one thread per (partial, column): sums kRowsPerPartial rows in order
template <class X>
__global__ void block_column_sums(const X* x, long long rows, int n, float* partials) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  const int part = blockIdx.y;
  if (col >= n) return;
  const long long r0 = static_cast<long long>(part) * kRowsPerPartial;
  const long long r1 = min(rows, r0 + kRowsPerPartial);
  float s = 0.f;
  for (long long r = r0; r < r1; ++r) s += load(x, r * n + col);
  partials[static_cast<long long>(part) * n + col] = s;
}

// one warp per column: lane l adds partials l, l + 32, ... in order, then the lanes' sums go
// through warp_sum's fixed tree
__global__ void sum_partials(const float* partials, int count, int n, float* out) {
  const int col = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
  if (col >= n) return;
  float s = 0.f;
  for (int p = lane; p < count; p += 32) s += partials[static_cast<long long>(p) * n + col];
  s = warp_sum(s);
  if (lane == 0) out[col] += s;
}

template <class X>
void add_column_sums_impl(const Context& ctx, const X* x, long long rows, int n, float* out,
                          DeviceBuffer<float>& scratch) {
  if (rows == 0 || n == 0) return;
  const int count = partial_count(rows);
  float* partials = scratch.resize(static_cast<size_t>(count) * n);
  block_column_sums<<<dim3(blocks_for(n), count), kThreads, 0, ctx.stream()>>>(x, rows, n, partials);
  DB_CUDA_CHECK_LAUNCH();
  add_partial_sums(ctx, partials, count, n, out);
}

}  // namespace

void add_column_sums(const Context& ctx, const float* x, long long rows, int n, float* out,
                     DeviceBuffer<float>& scratch) {
  add_column_sums_impl(ctx, x, rows, n, out, scratch);
}
void add_column_sums(const Context& ctx, const bf16* x, long long rows, int n, float* out,
                     DeviceBuffer<float>& scratch) {
  add_column_sums_impl(ctx, x, rows, n, out, scratch);
}

void add_partial_sums(const Context& ctx, const float* partials, int count, int n, float* out) {
  if (n == 0) return;
  sum_partials<<<blocks_for(size_t(n) * 32), kThreads, 0, ctx.stream()>>>(partials, count, n, out);
  DB_CUDA_CHECK_LAUNCH();
}

}  // namespace db::cuda
