// lm_head_loss.cu: per-row softmax cross-entropy, loss sum, bias and row gather / scatter kernels
// (see lm_head_loss.h).
#include "models/layers/cuda/lm_head_loss.h"

#include <cmath>
#include <cstdint>

#include "models/cuda/activation_io.cuh"
#include "models/cuda/reduce.cuh"

namespace db::cuda {

namespace {

constexpr int kRowThreads = 256;

// (value, index) b replaces a when larger, or equal with a smaller index: the first maximum wins
// whichever thread saw it, as Eigen's in-order scan with a strict > does
__device__ __forceinline__ void keep_first_max(float& v, int& i, float ov, int oi) {
  if (ov > v || (ov == v && oi < i)) v = ov, i = oi;
}

// kVec consecutive columns, starting at column g * kVec, as one load or store (16 or 8 bytes for 4
// columns): the row's loads and stores are the kernel's whole cost, and wide ones keep more bytes in
// flight per instruction
template <int kVec>
__device__ __forceinline__ void load_columns(const float* p, int g, float (&v)[kVec]) {
  if constexpr (kVec == 4) {
    const float4 t = reinterpret_cast<const float4*>(p)[g];
    v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
  } else {
    v[0] = p[g];
  }
}
template <int kVec>
__device__ __forceinline__ void store_columns(float* p, int g, const float (&v)[kVec]) {
  if constexpr (kVec == 4)
    reinterpret_cast<float4*>(p)[g] = make_float4(v[0], v[1], v[2], v[3]);
  else
    p[g] = v[0];
}
template <int kVec>
__device__ __forceinline__ void store_columns(bf16* p, int g, const float (&v)[kVec]) {
  if constexpr (kVec == 4) {
    const __nv_bfloat162 lo = __floats2bfloat162_rn(v[0], v[1]), hi = __floats2bfloat162_rn(v[2], v[3]);
    uint2 packed;
    packed.x = *reinterpret_cast<const unsigned*>(&lo);
    packed.y = *reinterpret_cast<const unsigned*>(&hi);
    reinterpret_cast<uint2*>(p)[g] = packed;
  } else {
    store(p, g, v[0]);
  }
}

// Block per row of the tile. The row is read from global memory once: with kStaged it is kept in
// dynamic shared memory (N floats) for the three passes, otherwise the passes re-read it from the
// tile (it stays in L2 between them). Thread t takes the column groups t, t + blockDim, ... of kVec
// columns each (kVec divides N), in increasing order. Pass 2 keeps each exp(z - max) in place of z
// for pass 3. dlogits [rows, N] is the tile itself (fp32, in place) or a separate bf16 tile; the
// tile's logits are scratch after the call.
template <bool kStaged, int kVec, class D>
__global__ void __launch_bounds__(kRowThreads)
    softmax_cross_entropy_rows(float* logits, const float* bias, int N, const int32_t* targets, int32_t* argmax,
                               double* row_loss, float grad_scale, D* dlogits) {
  extern __shared__ float4 staged_storage[];
  float* staged = reinterpret_cast<float*>(staged_storage);
  __shared__ float shared_value[32], shared_sum[32];
  __shared__ int shared_index[32];
  const int r = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  const int groups = N / kVec;
  float* row = logits + static_cast<long long>(r) * N;
  float* z = kStaged ? staged : row;

  // pass 1: bias in, and each thread's first maximum over its columns (visited in increasing order)
  float best = -INFINITY;
  int best_index = N;  // above every real index, so a real -inf logit still wins a tie with it
  // unrolled so that several loads are in flight before the first comparison waits on one
#pragma unroll 8
  for (int g = threadIdx.x; g < groups; g += blockDim.x) {
    float v[kVec];
    load_columns<kVec>(row, g, v);
#pragma unroll
    for (int c = 0; c < kVec; ++c) {
      if (bias) v[c] += bias[g * kVec + c];
      if (v[c] > best) best = v[c], best_index = g * kVec + c;
    }
    if (kStaged || bias) store_columns<kVec>(z, g, v);
  }
  for (int offset = 16; offset > 0; offset >>= 1)
    keep_first_max(best, best_index, __shfl_xor_sync(0xffffffffu, best, offset),
                   __shfl_xor_sync(0xffffffffu, best_index, offset));
  if (lane == 0) shared_value[warp] = best, shared_index[warp] = best_index;
  __syncthreads();  // also publishes the biased logits to the whole block
  best = lane < warps ? shared_value[lane] : -INFINITY;
  best_index = lane < warps ? shared_index[lane] : N;
  for (int offset = 16; offset > 0; offset >>= 1)
    keep_first_max(best, best_index, __shfl_xor_sync(0xffffffffu, best, offset),
                   __shfl_xor_sync(0xffffffffu, best_index, offset));
  if (best_index >= N) best_index = 0;  // an all-NaN row: Eigen's scan would stay at 0
  const float zmax = best;
  const int y = targets[r];
  const float target_logit = z[y];
  __syncthreads();  // every thread has read z[y] before pass 2 overwrites it

  // pass 2: the softmax denominator; each exp is kept in z for pass 3
  float s = 0.f;
  for (int g = threadIdx.x; g < groups; g += blockDim.x) {
    float e[kVec];
    load_columns<kVec>(z, g, e);
#pragma unroll
    for (int c = 0; c < kVec; ++c) {
      e[c] = expf(e[c] - zmax);
      s += e[c];
    }
    store_columns<kVec>(z, g, e);
  }
  const float sum = block_sum(s, shared_sum);

  if (threadIdx.x == 0) {
    if (argmax) argmax[r] = best_index;
    row_loss[r] = log(static_cast<double>(sum)) - static_cast<double>(target_logit - zmax);
  }
  // pass 3: dlogits = grad_scale * softmax - grad_scale * onehot (the CPU's arithmetic)
  if (grad_scale != 0.f) {
    const float scale = static_cast<float>(static_cast<double>(grad_scale) / static_cast<double>(sum));
    D* out = dlogits + static_cast<long long>(r) * N;
    for (int g = threadIdx.x; g < groups; g += blockDim.x) {
      float d[kVec];
      load_columns<kVec>(z, g, d);
#pragma unroll
      for (int c = 0; c < kVec; ++c) {
        d[c] *= scale;
        if (g * kVec + c == y) d[c] -= grad_scale;
      }
      store_columns<kVec>(out, g, d);
    }
  }
}

// a row of this many floats or fewer is staged in shared memory (the default 48 KiB per block)
constexpr int kMaxStagedRow = 48 * 1024 / sizeof(float) - 3 * 32;

template <bool kStaged, int kVec, class D>
void launch_rows(const Context& ctx, float* logits, const float* bias, int rows, int N, const int32_t* targets,
                 int32_t* argmax, double* row_loss, float grad_scale, D* dlogits) {
  const size_t shared_bytes = kStaged ? N * sizeof(float) : 0;
  softmax_cross_entropy_rows<kStaged, kVec><<<rows, kRowThreads, shared_bytes, ctx.stream()>>>(
      logits, bias, N, targets, argmax, row_loss, grad_scale, dlogits);
  DB_CUDA_CHECK_LAUNCH();
}

template <class D>
void softmax_cross_entropy(const Context& ctx, float* logits, const float* bias, int rows, int N,
                           const int32_t* targets, int32_t* argmax, double* row_loss, float grad_scale, D* dlogits) {
  if (rows == 0 || N == 0) return;
  // 4-column groups need every row to start on a group boundary: N a multiple of 4, tiles aligned
  const auto aligned = [](const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; };
  const bool wide = N % 4 == 0 && aligned(logits, 16) && aligned(dlogits, 4 * sizeof(D));
  const bool staged = N <= kMaxStagedRow;
  if (staged && wide)
    launch_rows<true, 4>(ctx, logits, bias, rows, N, targets, argmax, row_loss, grad_scale, dlogits);
  else if (staged)
    launch_rows<true, 1>(ctx, logits, bias, rows, N, targets, argmax, row_loss, grad_scale, dlogits);
  else if (wide)
    launch_rows<false, 4>(ctx, logits, bias, rows, N, targets, argmax, row_loss, grad_scale, dlogits);
  else
    launch_rows<false, 1>(ctx, logits, bias, rows, N, targets, argmax, row_loss, grad_scale, dlogits);
}

__device__ __forceinline__ double warp_sum_double(double v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// one block: thread t sums rows t, t + blockDim, ... in order, then a fixed tree over the threads
__global__ void __launch_bounds__(kRowThreads) sum_losses(const double* row_loss, long long M, double* total) {
  __shared__ double shared[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  double s = 0.0;
  for (long long i = threadIdx.x; i < M; i += blockDim.x) s += row_loss[i];
  s = warp_sum_double(s);
  if (lane == 0) shared[warp] = s;
  __syncthreads();
  if (warp == 0) {
    s = warp_sum_double(lane < warps ? shared[lane] : 0.0);
    if (lane == 0) *total = s;
  }
}

__global__ void add_bias_to_rows(float* out, const float* bias, long long total, int N) {
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx < total) out[idx] += bias[idx % N];
}

__global__ void add_elements(const float* src, float* dst, size_t n) {
  const size_t idx = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx < n) dst[idx] += src[idx];
}

template <class IndexT, class Out>
__global__ void gather_kernel(const float* x, const IndexT* positions, long long M, int D, Out* gathered) {
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= M * D) return;
  const long long m = idx / D;
  store(gathered, idx, x[static_cast<long long>(positions[m]) * D + idx % D]);
}

template <class IndexT>
__global__ void scatter_kernel(const float* src, const IndexT* positions, long long M, int D, float* x) {
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= M * D) return;
  const long long m = idx / D;
  x[static_cast<long long>(positions[m]) * D + idx % D] = src[idx];
}

template <class IndexT, class Out>
void gather_impl(const Context& ctx, const float* x, const IndexT* positions, long long M, int D, Out* gathered) {
  if (M == 0 || D == 0) return;
  gather_kernel<<<blocks_for(M * D), kThreads, 0, ctx.stream()>>>(x, positions, M, D, gathered);
  DB_CUDA_CHECK_LAUNCH();
}

template <class IndexT>
void scatter_impl(const Context& ctx, const float* src, const IndexT* positions, long long M, int D, float* x) {
  if (M == 0 || D == 0) return;
  scatter_kernel<<<blocks_for(M * D), kThreads, 0, ctx.stream()>>>(src, positions, M, D, x);
  DB_CUDA_CHECK_LAUNCH();
}

}  // namespace

void head_softmax_cross_entropy(const Context& ctx, float* logits, const float* bias, int rows, int N,
                                const int32_t* targets, int32_t* argmax, double* row_loss, float grad_scale) {
  softmax_cross_entropy(ctx, logits, bias, rows, N, targets, argmax, row_loss, grad_scale, logits);
}

void head_softmax_cross_entropy(const Context& ctx, float* logits, const float* bias, int rows, int N,
                                const int32_t* targets, int32_t* argmax, double* row_loss, float grad_scale,
                                bf16* dlogits) {
  softmax_cross_entropy(ctx, logits, bias, rows, N, targets, argmax, row_loss, grad_scale, dlogits);
}

void sum_row_losses(const Context& ctx, const double* row_loss, long long M, double* total) {
  sum_losses<<<1, kRowThreads, 0, ctx.stream()>>>(row_loss, M, total);
  DB_CUDA_CHECK_LAUNCH();
}

void add_row_bias(const Context& ctx, float* out, const float* bias, long long rows, int N) {
  const long long total = rows * N;
  if (total == 0) return;
  add_bias_to_rows<<<blocks_for(total), kThreads, 0, ctx.stream()>>>(out, bias, total, N);
  DB_CUDA_CHECK_LAUNCH();
}

void add_in_place(const Context& ctx, const float* src, float* dst, size_t n) {
  if (n == 0) return;
  add_elements<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(src, dst, n);
  DB_CUDA_CHECK_LAUNCH();
}

void gather_rows(const Context& ctx, const float* x, const int64_t* positions, long long M, int D, float* gathered) {
  gather_impl(ctx, x, positions, M, D, gathered);
}
void gather_rows(const Context& ctx, const float* x, const int32_t* positions, long long M, int D, bf16* gathered) {
  gather_impl(ctx, x, positions, M, D, gathered);
}
void gather_rows(const Context& ctx, const float* x, const int32_t* positions, long long M, int D, float* gathered) {
  gather_impl(ctx, x, positions, M, D, gathered);
}

void scatter_rows(const Context& ctx, const float* src, const int64_t* positions, long long M, int D, float* x) {
  scatter_impl(ctx, src, positions, M, D, x);
}
void scatter_rows(const Context& ctx, const float* src, const int32_t* positions, long long M, int D, float* x) {
  scatter_impl(ctx, src, positions, M, D, x);
}

}  // namespace db::cuda
