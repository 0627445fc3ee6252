// activation_io.cuh: device-side loads and stores of activations held as float or bf16 (bf16.h).
//
// A kernel templated on its activation types reads with load() and writes with store(): the
// arithmetic between them is fp32 whatever the storage, so a bf16 kernel computes exactly what
// the float kernel computes from the same (bf16-representable) inputs, and rounds once on store.
#pragma once

#include <cuda_bf16.h>

#include "models/cuda/bf16.h"

namespace db::cuda {

__device__ __forceinline__ float load(const float* p, long long i) { return p[i]; }
__device__ __forceinline__ float load(const bf16* p, long long i) {
  return __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(p)[i]);
}
__device__ __forceinline__ void store(float* p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void store(bf16* p, long long i, float v) {
  reinterpret_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
}

}  // namespace db::cuda
