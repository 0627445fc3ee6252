// softmax_attention.cu (cuda): the masked softmax of softmax attention (see the header).
#include "models/mixers/cuda/softmax_attention.h"

#include <cmath>

#include "models/cuda/reduce.cuh"

namespace db::cuda::attention {

namespace {

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
