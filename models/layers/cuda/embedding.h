// embedding.h (cuda): token and learned-position embeddings on the GPU, the CUDA half of
// models/layers/embedding.* and models/layers/position_embedding.*.
//
// The input layer of every model, so both directions run each step. The token backward is the only
// scatter with collisions in the model (a token repeats within a batch), and atomics would make its
// bits depend on scheduling: instead the (id, position) pairs are sorted by id with CUB's stable
// radix sort, so each id's rows form a run in position order, and each run is summed in that fixed
// order (in fixed chunks of the sorted list, then the chunks in order). Positions need no sort: a
// table row t receives exactly the batch's rows at t, summed in batch order.
// Plain device pointers, queued on the context's stream; this header is compiled by nvcc (C++17)
// as well as by the host compiler.
// Shapes: B batch, T time, D width, N vocabulary, T_max position-table length; n = B*T tokens.
#pragma once

#include <cstdint>

#include "models/cuda/runtime.h"

namespace db::cuda {

// ids [n] in [0, N) -> y [n, D] = rows of weight [N, D]. The host must check the ids before they
// are uploaded (the CPU layer throws std::out_of_range); a kernel cannot throw.
void embedding_forward(const Context& ctx, const int32_t* ids, const float* weight, float* y, int n, int D);

// The backward's scratch, grown on the first call of a shape and reused after.
struct EmbeddingScratch {
  DeviceBuffer<uint32_t> positions;         // [n] 0..n-1, the sort's values
  DeviceBuffer<uint32_t> sorted_ids;        // [n]
  DeviceBuffer<uint32_t> sorted_positions;  // [n]
  DeviceBuffer<unsigned char> sort_temp;    // CUB's temporary storage
  DeviceBuffer<float> run_sums;             // [n, D] the sum of each run inside a chunk, at its first sorted index
};

// dy [n, D]: dweight [N, D] row id += the dy rows of that id (ids as in forward); repeated ids are
// summed in a fixed order, so the bits are the same on every run.
void embedding_backward(const Context& ctx, const int32_t* ids, const float* dy, float* dweight, int n, int N, int D,
                        EmbeddingScratch& scratch);

// x [B, T, D] -> y [B, T, D] = x + table [T_max, D] rows t0 .. t0+T-1 (y may alias x); throws
// std::out_of_range when t0 + T > max_len, as the CPU layer.
void position_embedding_forward(const Context& ctx, const float* x, const float* table, float* y, int B, int T, int D,
                                int t0, int max_len);

// dy [B, T, D] -> dx = dy (copied unless dx == dy); dtable rows t0 .. t0+T-1 += the sum over the
// batch, in batch order (the CPU's order, so these are the CPU's bits up to its own arithmetic)
void position_embedding_backward(const Context& ctx, const float* dy, float* dx, float* dtable, int B, int T, int D,
                                 int t0);

}  // namespace db::cuda
