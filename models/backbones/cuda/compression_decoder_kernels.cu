// compression_decoder_kernels.cu: see compression_decoder_kernels.h.
#include "models/backbones/cuda/compression_decoder_kernels.h"

#include "models/numerics/activations.h"

namespace db::cuda {

namespace {

// pe[t, d] of mad-lab's posemb_sincos_1d: sin(t w_d) for d < D/2, cos(t w_{d-D/2}) up to 2 (D/2), 0 after
__device__ float sincos_position(int t, int d, int D) {
  const int half = D / 2;
  if (d >= 2 * half) return 0.f;
  const int i = d < half ? d : d - half;
  const double step = half > 1 ? log(10000.0) / (half - 1) : 0.0;
  const double angle = t * exp(-step * i);
  return static_cast<float>(d < half ? sin(angle) : cos(angle));
}

__global__ void broadcast_last_kernel(const float* x, float* z, int B, int T, int D) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(B) * T * D) return;
  const int d = static_cast<int>(i % D);
  const long long row = i / D;
  const int t = static_cast<int>(row % T), b = static_cast<int>(row / T);
  z[i] = x[(static_cast<long long>(b) * T + T - 1) * D + d] + sincos_position(t, d, D);
}

// one thread per (b, d): writes the whole column dx[b, :, d], the sum at t = T-1
__global__ void broadcast_last_backward_kernel(const float* dz, float* dx, int B, int T, int D) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(B) * D) return;
  const int d = static_cast<int>(i % D), b = static_cast<int>(i / D);
  const long long base = static_cast<long long>(b) * T * D + d;
  float sum = 0.f;
  for (int t = 0; t < T; ++t) sum += dz[base + static_cast<long long>(t) * D];
  for (int t = 0; t < T - 1; ++t) dx[base + static_cast<long long>(t) * D] = 0.f;
  dx[base + static_cast<long long>(T - 1) * D] = sum;
}

__global__ void gelu_kernel(const float* x, float* y, long long n) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = gelu(x[i]);
}

__global__ void gelu_backward_kernel(const float* x, const float* dy, float* dx, long long n) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) dx[i] = dy[i] * gelu_grad(x[i]);
}

}  // namespace

void decoder_broadcast_last(const Context& ctx, const float* x, float* z, int B, int T, int D) {
  const size_t n = static_cast<size_t>(B) * T * D;
  if (n == 0) return;
  broadcast_last_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(x, z, B, T, D);
  DB_CUDA_CHECK_LAUNCH();
}

void decoder_broadcast_last_backward(const Context& ctx, const float* dz, float* dx, int B, int T, int D) {
  const size_t n = static_cast<size_t>(B) * D;
  if (n == 0 || T == 0) return;
  broadcast_last_backward_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(dz, dx, B, T, D);
  DB_CUDA_CHECK_LAUNCH();
}

void gelu_forward(const Context& ctx, const float* x, float* y, long long n) {
  if (n == 0) return;
  gelu_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(x, y, n);
  DB_CUDA_CHECK_LAUNCH();
}

void gelu_backward(const Context& ctx, const float* x, const float* dy, float* dx, long long n) {
  if (n == 0) return;
  gelu_backward_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(x, dy, dx, n);
  DB_CUDA_CHECK_LAUNCH();
}

}  // namespace db::cuda
