// swiglu.cu: elementwise SwiGLU and SiLU kernels (see swiglu.h); one thread per element.
//
// sigmoid and silu' are the CPU's own formulas (activations.h, host and device): full-precision
// exp in the overflow-safe form, so large |x| gives 0 or 1 as on the CPU.
#include "models/layers/cuda/swiglu.h"
#include "models/numerics/activations.h"

namespace db::cuda {

namespace {

__device__ __forceinline__ long long element_index() {
  return static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
}

__global__ void swiglu_forward_kernel(const float* g, const float* u, float* h, long long n) {
  const long long i = element_index();
  if (i >= n) return;
  const float gi = g[i];
  h[i] = gi * sigmoid(gi) * u[i];
}

__global__ void swiglu_backward_kernel(const float* g, const float* u, const float* dh, float* dg, float* du,
                                       long long n) {
  const long long i = element_index();
  if (i >= n) return;
  const float gi = g[i], ui = u[i], d = dh[i], s = sigmoid(gi);
  dg[i] = d * ui * silu_grad_from_sigmoid(gi, s);
  du[i] = d * gi * s;
}

__global__ void silu_forward_kernel(const float* x, float* y, long long n) {
  const long long i = element_index();
  if (i >= n) return;
  const float xi = x[i];
  y[i] = xi * sigmoid(xi);
}

__global__ void silu_backward_kernel(const float* x, const float* dy, float* dx, long long n) {
  const long long i = element_index();
  if (i >= n) return;
  const float xi = x[i], s = sigmoid(xi);
  dx[i] = dy[i] * silu_grad_from_sigmoid(xi, s);
}

}  // namespace

void swiglu_forward(const Context& ctx, const float* g, const float* u, float* h, long long n) {
  if (n == 0) return;
  swiglu_forward_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(g, u, h, n);
  DB_CUDA_CHECK_LAUNCH();
}

void swiglu_backward(const Context& ctx, const float* g, const float* u, const float* dh, float* dg, float* du,
                     long long n) {
  if (n == 0) return;
  swiglu_backward_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(g, u, dh, dg, du, n);
  DB_CUDA_CHECK_LAUNCH();
}

void silu_forward(const Context& ctx, const float* x, float* y, long long n) {
  if (n == 0) return;
  silu_forward_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(x, y, n);
  DB_CUDA_CHECK_LAUNCH();
}

void silu_backward(const Context& ctx, const float* x, const float* dy, float* dx, long long n) {
  if (n == 0) return;
  silu_backward_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(x, dy, dx, n);
  DB_CUDA_CHECK_LAUNCH();
}

}  // namespace db::cuda
