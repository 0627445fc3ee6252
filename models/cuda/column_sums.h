// column_sums.h: out[n] += the sum over rows of a [rows, n] matrix, in a fixed order.
//
// How every weight gradient that sums over positions (norm weights, conv taps, biases) is reduced
// on the GPU: rows are split into fixed blocks of kRowsPerPartial, each block's column sums are
// written to a partial row, and the partials are then added in a fixed order (32 interleaved runs
// in order, then a fixed tree over the runs). No atomics, so the bits are the same on every run.
#pragma once

#include "models/cuda/runtime.h"

namespace db::cuda {

inline constexpr int kRowsPerPartial = 64;

// partials needed for `rows` rows
inline int partial_count(long long rows) { return static_cast<int>((rows + kRowsPerPartial - 1) / kRowsPerPartial); }

// x [rows, n] (fp32, or bf16 summed in fp32) -> out [n] += column sums; scratch grows to
// [partial_count(rows), n]
void add_column_sums(const Context& ctx, const float* x, long long rows, int n, float* out,
                     DeviceBuffer<float>& scratch);
void add_column_sums(const Context& ctx, const bf16* x, long long rows, int n, float* out,
                     DeviceBuffer<float>& scratch);
// out [n] += column sums of partials [count, n], summed in that fixed order (for kernels that write their own partials)
void add_partial_sums(const Context& ctx, const float* partials, int count, int n, float* out);

}  // namespace db::cuda
