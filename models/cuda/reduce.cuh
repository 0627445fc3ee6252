// reduce.cuh: deterministic sums inside a kernel.
//
// Results must be the same bits run to run, so no reduction uses atomics: a block sums with warp
// shuffles in a fixed tree, and sums over many rows go through fixed partials (column_sums.h).
#pragma once

#include <cuda_runtime.h>

namespace db::cuda {

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// sum of v over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the total.
// `shared` holds 32 floats; the function syncs, so a block may call it repeatedly.
__device__ __forceinline__ float block_sum(float v, float* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  float total = lane < warps ? shared[lane] : 0.f;
  return warp_sum(total);
}

}  // namespace db::cuda
