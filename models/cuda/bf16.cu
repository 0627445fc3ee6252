// bf16.cu: fp32 <-> bf16 conversions (see bf16.h).
#include "models/cuda/activation_io.cuh"
#include "models/cuda/bf16.h"

namespace db::cuda {

namespace {

template <class From, class To>
__global__ void convert_kernel(const From* src, To* dst, size_t n) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) store(dst, i, load(src, i));
}

template <class From, class To>
void convert(const Context& ctx, const From* src, To* dst, size_t n) {
  if (n == 0) return;
  convert_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(src, dst, n);
  DB_CUDA_CHECK_LAUNCH();
}

}  // namespace

void round_to_bf16(const Context& ctx, const float* src, bf16* dst, size_t n) { convert(ctx, src, dst, n); }
void widen_to_fp32(const Context& ctx, const bf16* src, float* dst, size_t n) { convert(ctx, src, dst, n); }
void store_activation(const Context& ctx, const float* src, float* dst, size_t n) { copy_activation(ctx, src, dst, n); }
void store_activation(const Context& ctx, const float* src, bf16* dst, size_t n) { round_to_bf16(ctx, src, dst, n); }

}  // namespace db::cuda
