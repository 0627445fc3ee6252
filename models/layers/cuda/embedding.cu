// embedding.cu: token and position embeddings, forward and fixed-order backward (see embedding.h).
#include "models/layers/cuda/embedding.h"

#include <cub/device/device_radix_sort.cuh>
#include <stdexcept>
#include <string>

namespace db::cuda {

namespace {

// sorted entries per chunk of the backward: bounds the serial work of one thread to kChunk rows
// plus one add per chunk a run spans, however often an id repeats (a 16-token vocabulary included)
constexpr int kChunk = 64;

__global__ void gather_embedding_rows(const int32_t* ids, const float* weight, float* y, int n, int D) {
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<long long>(n) * D) return;
  const long long r = idx / D;
  y[idx] = weight[static_cast<long long>(ids[r]) * D + idx % D];
}

__global__ void fill_iota(uint32_t* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = static_cast<uint32_t>(i);
}

// block per chunk of the sorted list, threads over columns. Each run of equal ids inside the chunk
// is summed in sorted (= position) order and stored at the run's first sorted index; a run that
// continues into the next chunk is cut at the boundary, so run_sums holds an entry at every chunk
// start as well as at every change of id.
__global__ void chunk_run_sums(const uint32_t* sorted_ids, const uint32_t* sorted_positions, const float* dy, int n,
                               int D, float* run_sums) {
  const int i0 = blockIdx.x * kChunk, i1 = min(n, i0 + kChunk);
  for (int c = threadIdx.x; c < D; c += blockDim.x) {
    int start = i0;
    float s = 0.f;
    for (int i = i0; i < i1; ++i) {
      if (i > i0 && sorted_ids[i] != sorted_ids[i - 1]) {
        run_sums[static_cast<long long>(start) * D + c] = s;
        s = 0.f;
        start = i;
      }
      s += dy[static_cast<long long>(sorted_positions[i]) * D + c];
    }
    run_sums[static_cast<long long>(start) * D + c] = s;
  }
}

// block per sorted index; only the first index of each id works: it adds the id's pieces, the one
// at its own index and one at each chunk start the id's run crosses, in order
__global__ void add_id_runs(const uint32_t* sorted_ids, const float* run_sums, int n, int D, float* dweight) {
  const int i = blockIdx.x;
  const uint32_t id = sorted_ids[i];
  if (i > 0 && sorted_ids[i - 1] == id) return;
  float* row = dweight + static_cast<long long>(id) * D;
  for (int c = threadIdx.x; c < D; c += blockDim.x) {
    float g = row[c] + run_sums[static_cast<long long>(i) * D + c];
    for (int j = (i / kChunk + 1) * kChunk; j < n && sorted_ids[j] == id; j += kChunk)
      g += run_sums[static_cast<long long>(j) * D + c];
    row[c] = g;
  }
}

__global__ void add_position_rows(const float* x, const float* table, float* y, int T, int D, int t0,
                                  long long total) {
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= total) return;
  const long long r = idx / D;
  const int c = static_cast<int>(idx % D), t = static_cast<int>(r % T);
  y[idx] = x[idx] + table[static_cast<long long>(t0 + t) * D + c];
}

// thread per (t, column): the batch entries in batch order, onto the gradient's current value
__global__ void sum_position_grads(const float* dy, float* dtable, int B, int T, int D, int t0) {
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<long long>(T) * D) return;
  const int t = static_cast<int>(idx / D), c = static_cast<int>(idx % D);
  float* g = dtable + static_cast<long long>(t0 + t) * D + c;
  float s = *g;
  for (int b = 0; b < B; ++b) s += dy[(static_cast<long long>(b) * T + t) * D + c];
  *g = s;
}

// threads for a block that loops over D columns: a warp multiple, at most kThreads
int column_threads(int D) { return D >= kThreads ? kThreads : ((D + 31) / 32) * 32; }

}  // namespace

void embedding_forward(const Context& ctx, const int32_t* ids, const float* weight, float* y, int n, int D) {
  const long long total = static_cast<long long>(n) * D;
  if (total == 0) return;
  gather_embedding_rows<<<blocks_for(total), kThreads, 0, ctx.stream()>>>(ids, weight, y, n, D);
  DB_CUDA_CHECK_LAUNCH();
}

void embedding_backward(const Context& ctx, const int32_t* ids, const float* dy, float* dweight, int n, int N, int D,
                        EmbeddingScratch& scratch) {
  if (n == 0 || D == 0) return;
  // only the bits an id in [0, N) can set take part in the sort
  int bits = 1;
  while (bits < 32 && (uint64_t{1} << bits) < static_cast<uint64_t>(N)) ++bits;
  uint32_t* positions = scratch.positions.resize(n);
  uint32_t* sorted_ids = scratch.sorted_ids.resize(n);
  uint32_t* sorted_positions = scratch.sorted_positions.resize(n);
  fill_iota<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(positions, n);
  DB_CUDA_CHECK_LAUNCH();
  // ids are non-negative, so as unsigned keys they sort the same; stable, so equal ids keep position order
  const uint32_t* keys = reinterpret_cast<const uint32_t*>(ids);
  size_t temp_bytes = 0;
  DB_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys, sorted_ids, positions, sorted_positions, n,
                                                0, bits, ctx.stream()));
  unsigned char* temp = scratch.sort_temp.resize(temp_bytes);
  DB_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys, sorted_ids, positions, sorted_positions, n, 0,
                                                bits, ctx.stream()));
  float* run_sums = scratch.run_sums.resize(static_cast<size_t>(n) * D);
  const int threads = column_threads(D);
  chunk_run_sums<<<(n + kChunk - 1) / kChunk, threads, 0, ctx.stream()>>>(sorted_ids, sorted_positions, dy, n, D,
                                                                         run_sums);
  DB_CUDA_CHECK_LAUNCH();
  add_id_runs<<<n, threads, 0, ctx.stream()>>>(sorted_ids, run_sums, n, D, dweight);
  DB_CUDA_CHECK_LAUNCH();
}

void position_embedding_forward(const Context& ctx, const float* x, const float* table, float* y, int B, int T, int D,
                                int t0, int max_len) {
  if (t0 < 0 || t0 + T > max_len)
    throw std::out_of_range("PositionEmbedding: positions [" + std::to_string(t0) + ", " + std::to_string(t0 + T) +
                            ") exceed the table length " + std::to_string(max_len));
  const long long total = static_cast<long long>(B) * T * D;
  if (total == 0) return;
  add_position_rows<<<blocks_for(total), kThreads, 0, ctx.stream()>>>(x, table, y, T, D, t0, total);
  DB_CUDA_CHECK_LAUNCH();
}

void position_embedding_backward(const Context& ctx, const float* dy, float* dx, float* dtable, int B, int T, int D,
                                 int t0) {
  const long long total = static_cast<long long>(B) * T * D;
  if (total == 0) return;
  if (dx != dy)
    DB_CUDA_CHECK(cudaMemcpyAsync(dx, dy, total * sizeof(float), cudaMemcpyDeviceToDevice, ctx.stream()));
  sum_position_grads<<<blocks_for(static_cast<long long>(T) * D), kThreads, 0, ctx.stream()>>>(dy, dtable, B, T, D,
                                                                                                t0);
  DB_CUDA_CHECK_LAUNCH();
}

}  // namespace db::cuda
