// swiglu.cu: elementwise SwiGLU and SiLU kernels (see swiglu.h); one thread per element.
//
// sigmoid and silu' are the CPU's own formulas (activations.h, host and device): full-precision
// exp in the overflow-safe form, so large |x| gives 0 or 1 as on the CPU. Each kernel is one
// template over its activation type A (float or bf16; activation_io.cuh).
#include "models/cuda/activation_io.cuh"
#include "models/layers/cuda/swiglu.h"
#include "models/numerics/activations.h"

namespace db::cuda {

namespace {

__device__ __forceinline__ long long element_index() {
  return static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
}

template <class A>
__global__ void swiglu_forward_kernel(const A* g, const A* u, A* h, long long n) {
  const long long i = element_index();
  if (i >= n) return;
  const float gi = load(g, i);
  store(h, i, gi * sigmoid(gi) * load(u, i));
}

template <class A>
__global__ void swiglu_backward_kernel(const A* g, const A* u, const float* dh, float* dg, float* du, long long n) {
  const long long i = element_index();
  if (i >= n) return;
  const float gi = load(g, i), ui = load(u, i), d = dh[i], s = sigmoid(gi);
  dg[i] = d * ui * silu_grad_from_sigmoid(gi, s);
  du[i] = d * gi * s;
}

template <class A>
__global__ void silu_forward_kernel(const A* x, float* y, long long n) {
  const long long i = element_index();
  if (i >= n) return;
  const float xi = load(x, i);
  y[i] = xi * sigmoid(xi);
}

template <class A>
__global__ void silu_backward_kernel(const A* x, const float* dy, float* dx, long long n) {
  const long long i = element_index();
  if (i >= n) return;
  const float xi = load(x, i), s = sigmoid(xi);
  dx[i] = dy[i] * silu_grad_from_sigmoid(xi, s);
}

template <class A>
void swiglu_forward_impl(const Context& ctx, const A* g, const A* u, A* h, long long n) {
  if (n == 0) return;
  swiglu_forward_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(g, u, h, n);
  DB_CUDA_CHECK_LAUNCH();
}

template <class A>
void swiglu_backward_impl(const Context& ctx, const A* g, const A* u, const float* dh, float* dg, float* du,
                          long long n) {
  if (n == 0) return;
  swiglu_backward_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(g, u, dh, dg, du, n);
  DB_CUDA_CHECK_LAUNCH();
}

template <class A>
void silu_forward_impl(const Context& ctx, const A* x, float* y, long long n) {
  if (n == 0) return;
  silu_forward_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(x, y, n);
  DB_CUDA_CHECK_LAUNCH();
}

template <class A>
void silu_backward_impl(const Context& ctx, const A* x, const float* dy, float* dx, long long n) {
  if (n == 0) return;
  silu_backward_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(x, dy, dx, n);
  DB_CUDA_CHECK_LAUNCH();
}

}  // namespace

void swiglu_forward(const Context& ctx, const float* g, const float* u, float* h, long long n) {
  swiglu_forward_impl(ctx, g, u, h, n);
}
void swiglu_forward(const Context& ctx, const bf16* g, const bf16* u, bf16* h, long long n) {
  swiglu_forward_impl(ctx, g, u, h, n);
}
void swiglu_backward(const Context& ctx, const float* g, const float* u, const float* dh, float* dg, float* du,
                     long long n) {
  swiglu_backward_impl(ctx, g, u, dh, dg, du, n);
}
void swiglu_backward(const Context& ctx, const bf16* g, const bf16* u, const float* dh, float* dg, float* du,
                     long long n) {
  swiglu_backward_impl(ctx, g, u, dh, dg, du, n);
}
void silu_forward(const Context& ctx, const float* x, float* y, long long n) { silu_forward_impl(ctx, x, y, n); }
void silu_forward(const Context& ctx, const bf16* x, float* y, long long n) { silu_forward_impl(ctx, x, y, n); }
void silu_backward(const Context& ctx, const float* x, const float* dy, float* dx, long long n) {
  silu_backward_impl(ctx, x, dy, dx, n);
}
void silu_backward(const Context& ctx, const bf16* x, const float* dy, float* dx, long long n) {
  silu_backward_impl(ctx, x, dy, dx, n);
}

}  // namespace db::cuda
