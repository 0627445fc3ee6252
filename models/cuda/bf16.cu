// bf16.cu: fp32 -> bf16 rounding (see bf16.h).
#include "models/cuda/bf16.h"

#include <cuda_bf16.h>

namespace db::cuda {

namespace {

__global__ void round_to_bf16_kernel(const float* src, uint16_t* dst, size_t n) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) dst[i] = __bfloat16_as_ushort(__float2bfloat16_rn(src[i]));
}

}  // namespace

void round_to_bf16(const Context& ctx, const float* src, uint16_t* dst, size_t n) {
  if (n == 0) return;
  round_to_bf16_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(src, dst, n);
  DB_CUDA_CHECK_LAUNCH();
}

}  // namespace db::cuda
