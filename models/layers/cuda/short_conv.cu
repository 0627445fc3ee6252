// short_conv.cu: causal depthwise conv kernels (see short_conv.h).
//
// Backward, with dz the gradient at the pre-activation:
//   dx[t] = sum_{i: t+W-1-i < T} w[:,i] dz[t+W-1-i]     (the gather form: one thread per output)
//   dw[c,i] += sum_{b,t: t-W+1+i >= 0} dz[b,t,c] x[b,t-W+1+i,c]
// The weight gradient is one thread per (row block, tap c*W+i), so the partials come out in the
// weight's own [C,W] layout and add_partial_sums adds them straight into the gradient.
// Every tap sum runs over i in increasing order, as the CPU.
#include "models/cuda/activation_io.cuh"
#include "models/layers/cuda/short_conv.h"
#include "models/layers/cuda/swiglu.h"
#include "models/numerics/activations.h"

namespace db::cuda {

namespace {

// one thread per (b,t,c)
template <class A>
__global__ void conv_forward_kernel(const A* x, const float* w, float* y, A* z, int T, int C, int W, long long n) {
  const long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= n) return;
  const int c = static_cast<int>(e % C);
  const int t = static_cast<int>((e / C) % T);
  float acc = 0.f;
  for (int i = 0; i < W; ++i) {
    const int s = t - W + 1 + i;  // source time
    if (s >= 0) acc += w[c * W + i] * load(x, e + static_cast<long long>(s - t) * C);
  }
  if (z) {
    // the backward sees z as stored, so the forward's SiLU takes the stored value too
    store(z, e, acc);
    acc = load(z, e);
    acc *= sigmoid(acc);
  }
  y[e] = acc;
}

// one thread per (b,t,c): gathers the outputs that read x[b,t,c]
__global__ void conv_backward_input_kernel(const float* w, const float* dz, float* dx, int T, int C, int W,
                                           long long n) {
  const long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= n) return;
  const int c = static_cast<int>(e % C);
  const int t = static_cast<int>((e / C) % T);
  float acc = 0.f;
  for (int i = 0; i < W; ++i) {
    const int s = t + W - 1 - i;  // the output time that tap i reads x[t] at
    if (s < T) acc += w[c * W + i] * dz[e + static_cast<long long>(s - t) * C];
  }
  dx[e] = acc;
}

// one thread per (row block blockIdx.y, tap k = c*W+i): partials [blocks, C*W]
template <class A>
__global__ void conv_backward_weight_kernel(const A* x, const float* dz, float* partials, long long rows, int T, int C,
                                            int W) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= C * W) return;
  const int c = k / W, i = k % W, shift = W - 1 - i;
  const long long r0 = static_cast<long long>(blockIdx.y) * kRowsPerPartial;
  const long long r1 = min(rows, r0 + kRowsPerPartial);
  float acc = 0.f;
  for (long long r = r0; r < r1; ++r) {
    const int t = static_cast<int>(r % T);
    if (t >= shift) acc += dz[r * C + c] * load(x, (r - shift) * C + c);
  }
  partials[static_cast<long long>(blockIdx.y) * C * W + k] = acc;
}

template <class A>
void short_conv_forward_impl(const Context& ctx, const A* x, const float* w, float* y, A* z, int B, int T, int C,
                             int W, bool silu) {
  const long long n = static_cast<long long>(B) * T * C;
  if (n == 0) return;
  conv_forward_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(x, w, y, silu ? z : static_cast<A*>(nullptr), T, C, W, n);
  DB_CUDA_CHECK_LAUNCH();
}

template <class A>
void short_conv_backward_impl(const Context& ctx, const A* x, const float* w, const A* z, const float* dy, float* dx,
                              float* dw, int B, int T, int C, int W, bool silu, DeviceBuffer<float>& dz,
                              DeviceBuffer<float>& partials) {
  const long long rows = static_cast<long long>(B) * T, n = rows * C;
  if (n == 0) return;
  const float* g = dy;
  if (silu) {
    silu_backward(ctx, z, dy, dz.resize(n), n);
    g = dz.data();
  }
  conv_backward_input_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(w, g, dx, T, C, W, n);
  DB_CUDA_CHECK_LAUNCH();
  const int count = partial_count(rows), taps = C * W;
  float* part = partials.resize(static_cast<size_t>(count) * taps);
  conv_backward_weight_kernel<<<dim3(blocks_for(taps), count), kThreads, 0, ctx.stream()>>>(x, g, part, rows, T, C,
                                                                                            W);
  DB_CUDA_CHECK_LAUNCH();
  add_partial_sums(ctx, part, count, taps, dw);
}

}  // namespace

void short_conv_forward(const Context& ctx, const float* x, const float* w, float* y, float* z, int B, int T, int C,
                        int W, bool silu) {
  short_conv_forward_impl(ctx, x, w, y, z, B, T, C, W, silu);
}
void short_conv_forward(const Context& ctx, const bf16* x, const float* w, float* y, bf16* z, int B, int T, int C,
                        int W, bool silu) {
  short_conv_forward_impl(ctx, x, w, y, z, B, T, C, W, silu);
}
void short_conv_backward(const Context& ctx, const float* x, const float* w, const float* z, const float* dy,
                         float* dx, float* dw, int B, int T, int C, int W, bool silu, DeviceBuffer<float>& dz,
                         DeviceBuffer<float>& partials) {
  short_conv_backward_impl(ctx, x, w, z, dy, dx, dw, B, T, C, W, silu, dz, partials);
}
void short_conv_backward(const Context& ctx, const bf16* x, const float* w, const bf16* z, const float* dy,
                         float* dx, float* dw, int B, int T, int C, int W, bool silu, DeviceBuffer<float>& dz,
                         DeviceBuffer<float>& partials) {
  short_conv_backward_impl(ctx, x, w, z, dy, dx, dw, B, T, C, W, silu, dz, partials);
}

}  // namespace db::cuda
