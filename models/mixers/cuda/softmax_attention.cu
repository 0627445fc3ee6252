// softmax_attention.cu (cuda): RoPE and the masked softmax of softmax attention (see the header).
#include "models/mixers/cuda/softmax_attention.h"

#include <cmath>

#include "models/cuda/reduce.cuh"

namespace db::cuda::attention {

namespace {

// one thread per table entry (p, i)
__global__ void rope_table_kernel(float* cos_t, float* sin_t, int len, int K, double base) {
  const int K2 = K / 2;
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<long long>(len) * K2) return;
  const int p = static_cast<int>(idx / K2), i = static_cast<int>(idx % K2);
  // the CPU's expression, term for term (models/layers/rope.cpp)
  const double angle = p * pow(base, -2.0 * i / K);
  cos_t[idx] = static_cast<float>(cos(angle));
  sin_t[idx] = static_cast<float>(sin(angle));
}

// one thread per rotated pair (row, head, i)
__global__ void rope_rotate_kernel(float* x, const float* cos_t, const float* sin_t, long long rows, int T, int H,
                                   int K, float sign) {
  const int K2 = K / 2;
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= rows * H * K2) return;
  const int i = static_cast<int>(idx % K2);
  const long long rh = idx / K2;
  const int h = static_cast<int>(rh % H);
  const long long r = rh / H;
  const long long p = r % T;
  float* v = x + r * H * K + static_cast<long long>(h) * K;
  const float c = cos_t[p * K2 + i], sn = sign * sin_t[p * K2 + i];
  const float a = v[i], b = v[i + K2];
  v[i] = a * c - b * sn;
  v[i + K2] = b * c + a * sn;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// max of v over the block, as block_sum (reduce.cuh): every thread gets it; syncs, reusable
__device__ __forceinline__ float block_max(float v, float* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  const float m = lane < warps ? shared[lane] : -INFINITY;
  return warp_max(m);
}

__device__ __forceinline__ int first_key(int t, int window) { return window > 0 ? max(0, t - window + 1) : 0; }

// one block per row (bh, t); every thread walks the same columns in every pass
__global__ void masked_softmax_forward_kernel(float* probs, int T, int window) {
  __shared__ float shared[32];
  const long long row = blockIdx.x;
  const int t = static_cast<int>(row % T), first = first_key(t, window);
  float* p = probs + row * T;
  float m = -INFINITY;
  for (int s = first + threadIdx.x; s <= t; s += blockDim.x) m = fmaxf(m, p[s]);
  m = block_max(m, shared);
  float sum = 0.f;
  for (int s = threadIdx.x; s < T; s += blockDim.x) {
    if (s < first || s > t) {
      p[s] = 0.f;
    } else {
      const float e = expf(p[s] - m);
      p[s] = e;
      sum += e;
    }
  }
  sum = block_sum(sum, shared);
  for (int s = threadIdx.x; s < T; s += blockDim.x)
    if (s >= first && s <= t) p[s] /= sum;
}

__global__ void masked_softmax_backward_kernel(const float* probs, float* dscore, int T, int window, float scale) {
  __shared__ float shared[32];
  const long long row = blockIdx.x;
  const int t = static_cast<int>(row % T), first = first_key(t, window);
  const float* p = probs + row * T;
  float* d = dscore + row * T;
  float dot = 0.f;
  for (int s = first + threadIdx.x; s <= t; s += blockDim.x) dot += d[s] * p[s];
  dot = block_sum(dot, shared);
  for (int s = threadIdx.x; s < T; s += blockDim.x) d[s] = (s < first || s > t) ? 0.f : p[s] * (d[s] - dot) * scale;
}

// threads per row block: T rounded up to whole warps, at most 256
int row_threads(int T) {
  const int warps = (T + 31) / 32;
  return warps >= 8 ? 256 : 32 * (warps > 0 ? warps : 1);
}

}  // namespace

void rope_table(const Context& ctx, float* cos_table, float* sin_table, int len, int head_dim, double base) {
  const size_t n = static_cast<size_t>(len) * (head_dim / 2);
  if (n == 0) return;
  rope_table_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(cos_table, sin_table, len, head_dim, base);
  DB_CUDA_CHECK_LAUNCH();
}

void rope_rotate(const Context& ctx, float* x, const float* cos_table, const float* sin_table, int B, int T, int H,
                 int head_dim, float sign) {
  const long long rows = static_cast<long long>(B) * T;
  const size_t n = static_cast<size_t>(rows) * H * (head_dim / 2);
  if (n == 0) return;
  rope_rotate_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(x, cos_table, sin_table, rows, T, H, head_dim, sign);
  DB_CUDA_CHECK_LAUNCH();
}

void masked_softmax_forward(const Context& ctx, float* probs, int BH, int T, int window) {
  const long long rows = static_cast<long long>(BH) * T;
  if (rows == 0) return;
  masked_softmax_forward_kernel<<<static_cast<unsigned>(rows), row_threads(T), 0, ctx.stream()>>>(probs, T, window);
  DB_CUDA_CHECK_LAUNCH();
}

void masked_softmax_backward(const Context& ctx, const float* probs, float* dscore, int BH, int T, int window,
                             float scale) {
  const long long rows = static_cast<long long>(BH) * T;
  if (rows == 0) return;
  masked_softmax_backward_kernel<<<static_cast<unsigned>(rows), row_threads(T), 0, ctx.stream()>>>(probs, dscore, T,
                                                                                                   window, scale);
  DB_CUDA_CHECK_LAUNCH();
}

}  // namespace db::cuda::attention
