// short_conv.cu: causal depthwise conv kernels (see short_conv.h).
//
// Backward, with dz the gradient at the pre-activation:
//   dx[t] = sum_{i: t+W-1-i < T} w[:,i] dz[t+W-1-i]     (the gather form: one thread per output)
//   dw[c,i] += sum_{b,t: t-W+1+i >= 0} dz[b,t,c] x[b,t-W+1+i,c]
// The weight gradient is one thread per (row block, channel) for all its taps, and the partials come
// out in the weight's own [C,W] layout, so add_partial_sums adds them straight into the gradient.
// Every tap sum runs over i in increasing order, as the CPU.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "models/cuda/activation_io.cuh"
#include "models/layers/cuda/short_conv.h"
#include "models/layers/cuda/swiglu.h"
#include "models/numerics/activations.h"

namespace db::cuda {

namespace {

// Both element-wise kernels run one block row per (b,t) (blockIdx.x = b*T + t) and one thread per
// channel (blockIdx.y picks the channel block), so no thread divides a 64-bit index.
struct RowChannel {
  long long e;  // the element (b,t,c)
  int t, c;
};
__device__ __forceinline__ bool row_channel(int T, int C, RowChannel& rc) {
  rc.c = blockIdx.y * blockDim.x + threadIdx.x;
  if (rc.c >= C) return false;
  const unsigned row = blockIdx.x;
  rc.t = static_cast<int>(row % static_cast<unsigned>(T));
  rc.e = static_cast<long long>(row) * C + rc.c;
  return true;
}

// one thread per (b,t,c)
template <class A>
__global__ void conv_forward_kernel(const A* x, const float* w, float* y, A* z, int T, int C, int W) {
  RowChannel rc;
  if (!row_channel(T, C, rc)) return;
  const long long e = rc.e;
  const int c = rc.c, t = rc.t;
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
__global__ void conv_backward_input_kernel(const float* w, const float* dz, float* dx, int T, int C, int W) {
  RowChannel rc;
  if (!row_channel(T, C, rc)) return;
  const long long e = rc.e;
  const int c = rc.c, t = rc.t;
  float acc = 0.f;
  for (int i = 0; i < W; ++i) {
    const int s = t + W - 1 - i;  // the output time that tap i reads x[t] at
    if (s < T) acc += w[c * W + i] * dz[e + static_cast<long long>(s - t) * C];
  }
  dx[e] = acc;
}

// One thread per (run of kShortConvRowsPerPartial rows blockIdx.y, channel c), for all W taps of c:
// partials [runs, C*W] in the weight's layout. It walks the run's rows once, keeping x[r-W+1 .. r]
// of its channel in registers, so a warp reads 32 neighbouring channels of a row at a time; tap i
// sums over rows in increasing order. The walk is unrolled in full, so all its loads are in flight
// at once.
constexpr int kMaxTaps = kMaxShortConvTaps;
template <class A>
__global__ void conv_backward_weight_kernel(const A* x, const float* dz, float* partials, long long rows, int T, int C,
                                            int W) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const long long r0 = static_cast<long long>(blockIdx.y) * kShortConvRowsPerPartial;
  const int t0 = static_cast<int>(r0 % T);
  // at row r: window[s] = x[r - s, c], and acc[s] sums dz[r, c] x[r - s, c], the gradient of tap W-1-s
  float window[kMaxTaps], acc[kMaxTaps];
#pragma unroll
  for (int s = 0; s < kMaxTaps; ++s) {
    window[s] = s + 1 < W && r0 - 1 - s >= 0 ? load(x, (r0 - 1 - s) * C + c) : 0.f;  // as after row r0 - 1
    acc[s] = 0.f;
  }
#pragma unroll
  for (int i = 0; i < kShortConvRowsPerPartial; ++i) {
    const long long r = r0 + i;
    if (r < rows) {
#pragma unroll
      for (int s = kMaxTaps - 1; s > 0; --s) window[s] = window[s - 1];
      window[0] = load(x, r * C + c);
      const float g = dz[r * C + c];
      const int t = (t0 + i) % T;
#pragma unroll
      for (int s = 0; s < kMaxTaps; ++s)
        if (s < W && t >= s) acc[s] += g * window[s];
    }
  }
  float* out = partials + static_cast<long long>(blockIdx.y) * C * W + static_cast<long long>(c) * W;
#pragma unroll
  for (int s = 0; s < kMaxTaps; ++s)
    if (s < W) out[W - 1 - s] = acc[s];
}

// threads per block: the channels rounded up to a warp, at most kThreads; grid: (b,t) rows x channel blocks
int channel_threads(int C) { return std::min(kThreads, (C + 31) / 32 * 32); }
dim3 row_channel_grid(int B, int T, int C) {
  const int threads = channel_threads(C);
  return dim3(static_cast<unsigned>(B) * static_cast<unsigned>(T), static_cast<unsigned>((C + threads - 1) / threads));
}

template <class A>
void short_conv_forward_impl(const Context& ctx, const A* x, const float* w, float* y, A* z, int B, int T, int C,
                             int W, bool silu) {
  const long long n = static_cast<long long>(B) * T * C;
  if (n == 0) return;
  conv_forward_kernel<<<row_channel_grid(B, T, C), channel_threads(C), 0, ctx.stream()>>>(
      x, w, y, silu ? z : static_cast<A*>(nullptr), T, C, W);
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
  conv_backward_input_kernel<<<row_channel_grid(B, T, C), channel_threads(C), 0, ctx.stream()>>>(w, g, dx, T, C, W);
  DB_CUDA_CHECK_LAUNCH();
  if (W > kMaxTaps)
    throw std::invalid_argument("short_conv_backward: kernel size " + std::to_string(W) + " above " +
                                std::to_string(kMaxTaps));
  const int count = static_cast<int>((rows + kShortConvRowsPerPartial - 1) / kShortConvRowsPerPartial), taps = C * W;
  float* part = partials.resize(static_cast<size_t>(count) * taps);
  const int threads = channel_threads(C);
  conv_backward_weight_kernel<<<dim3((C + threads - 1) / threads, count), threads, 0, ctx.stream()>>>(x, g, part, rows,
                                                                                                     T, C, W);
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
