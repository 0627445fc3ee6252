// projected_recurrence.cu: layout, write-strength and gate kernels (see projected_recurrence.h).
#include "models/mixers/cuda/projected_recurrence.h"

#include <stdexcept>

#include "models/cuda/reduce.cuh"
#include "models/numerics/activations.h"

namespace db::cuda {

namespace {

// The layout kernels run a warp per W-wide kernel-layout row (sequence b*H+h, position t*n_h+j),
// kRowsPerBlock rows a block; rows are counted in 32 bits (the launchers check), so finding a row's
// place in projection layout takes no 64-bit division.
constexpr int kRowsPerBlock = kThreads / 32;

__device__ __forceinline__ long long projection_row(unsigned row, int T, int H, int n_h, int W) {
  const unsigned P = static_cast<unsigned>(T) * n_h;
  const unsigned p = row % P, bh = row / P;
  const unsigned h = bh % H, b = bh / H, t = p / n_h, j = p % n_h;
  return (static_cast<long long>(b) * T + t) * n_h * H * W + (static_cast<long long>(j) * H + h) * W;
}

// a warp per row; kToHeads chooses the direction
template <bool kToHeads>
__global__ void permute_heads(const float* src, float* dst, unsigned rows, int T, int H, int n_h, int W) {
  const unsigned row = blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const long long heads = static_cast<long long>(row) * W, projection = projection_row(row, T, H, n_h, W);
  for (int w = lane; w < W; w += 32) {
    if (kToHeads)
      dst[heads + w] = src[projection + w];
    else
      dst[projection + w] = src[heads + w];
  }
}

// a warp per kernel-layout row: reads the row from projection layout, writes it L2-normalised
__global__ void to_heads_l2norm_kernel(const float* src, float* dst, float* rstd, unsigned rows, int T, int H, int n_h,
                                       int W, float eps) {
  const unsigned row = blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const float* in = src + projection_row(row, T, H, n_h, W);
  float* out = dst + static_cast<long long>(row) * W;
  float ss = 0.f;
  for (int w = lane; w < W; w += 32) ss += in[w] * in[w];
  const float rs = 1.f / sqrtf(warp_sum(ss) + eps);
  if (lane == 0) rstd[row] = rs;
  for (int w = lane; w < W; w += 32) out[w] = in[w] * rs;
}

// a warp per kernel-layout row: dx = rstd (dy - (dy . y) y), written to projection layout
__global__ void l2norm_backward_from_heads_kernel(const float* y, const float* rstd, const float* dy, float* dst,
                                                  unsigned rows, int T, int H, int n_h, int W) {
  const unsigned row = blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const long long base = static_cast<long long>(row) * W;
  float dot = 0.f;
  for (int w = lane; w < W; w += 32) dot += dy[base + w] * y[base + w];
  dot = warp_sum(dot);
  const float rs = rstd[row];
  float* out = dst + projection_row(row, T, H, n_h, W);
  for (int w = lane; w < W; w += 32) out[w] = rs * (dy[base + w] - dot * y[base + w]);
}

// beta index i over [B*H, T*n_h]; its projection element
__device__ __forceinline__ long long beta_source(long long i, int T, int H, int n_h) {
  const int p = static_cast<int>(i % (static_cast<long long>(T) * n_h));
  const long long bh = i / (static_cast<long long>(T) * n_h);
  const int h = static_cast<int>(bh % H), b = static_cast<int>(bh / H);
  const int t = p / n_h, j = p % n_h;
  return (static_cast<long long>(b) * T + t) * n_h * H + static_cast<long long>(j) * H + h;
}

__global__ void beta_forward_kernel(const float* bp, float* beta, int B, int T, int H, int n_h, float c) {
  const long long n = static_cast<long long>(B) * H * T * n_h;
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  beta[i] = c * sigmoid(bp[beta_source(i, T, H, n_h)]);
}

__global__ void beta_backward_kernel(const float* beta, const float* dbeta, float* dbp, int B, int T, int H, int n_h,
                                     float c) {
  const long long n = static_cast<long long>(B) * H * T * n_h;
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float sig = beta[i] / c;
  dbp[beta_source(i, T, H, n_h)] = dbeta[i] * c * sig * (1.f - sig);
}

__global__ void gate_forward_kernel(const float* ap, const float* A_log, const float* dt_bias, float* g, float* z, int B,
                                    int T, int H) {
  const long long n = static_cast<long long>(B) * H * T;
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int t = static_cast<int>(i % T);
  const long long bh = i / T;
  const int h = static_cast<int>(bh % H), b = static_cast<int>(bh / H);
  const float zi = ap[(static_cast<long long>(b) * T + t) * H + h] + dt_bias[h];
  z[i] = zi;
  g[i] = -expf(A_log[h]) * softplus(zi);
}

// one thread per sequence: dap, and the sequence's partial sums of dA_log and ddt_bias over t
__global__ void gate_backward_sequences(const float* g, const float* z, const float* dg, const float* A_log, float* dap,
                                        float* partials, int B, int T, int H) {
  const int bh = blockIdx.x * blockDim.x + threadIdx.x;
  if (bh >= B * H) return;
  const int h = bh % H, b = bh / H;
  const float a = -expf(A_log[h]);
  double dA = 0.0, ddt = 0.0;
  for (int t = 0; t < T; ++t) {
    const long long i = static_cast<long long>(bh) * T + t;
    const float dgt = dg[i];
    const float dz = dgt * a * sigmoid(z[i]);
    dap[(static_cast<long long>(b) * T + t) * H + h] = dz;
    dA += static_cast<double>(dgt) * g[i];
    ddt += dz;
  }
  partials[bh] = static_cast<float>(dA);
  partials[B * H + bh] = static_cast<float>(ddt);
}

// one thread per head: adds the per-sequence partials over b in order
__global__ void gate_backward_heads(const float* partials, float* dA_log, float* ddt_bias, int B, int H) {
  const int h = blockIdx.x * blockDim.x + threadIdx.x;
  if (h >= H) return;
  float sa = dA_log[h], sd = ddt_bias[h];
  for (int b = 0; b < B; ++b) {
    sa += partials[b * H + h];
    sd += partials[B * H + b * H + h];
  }
  dA_log[h] = sa, ddt_bias[h] = sd;
}

__global__ void fill_kernel(float* y, size_t n, float value) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = value;
}

}  // namespace

namespace {
// the kernel-layout rows of a [B*H, T*n_h, W] buffer, checked to fit the kernels' 32-bit row index
unsigned layout_rows(int B, int T, int H, int n_h) {
  const long long rows = static_cast<long long>(B) * H * T * n_h;
  if (rows >= (1LL << 31))
    throw std::invalid_argument("projected recurrence: more than 2^31 (sequence, position) rows");
  return static_cast<unsigned>(rows);
}
}  // namespace

void to_heads(const Context& ctx, const float* src, float* dst, int B, int T, int H, int n_h, int W) {
  const unsigned rows = layout_rows(B, T, H, n_h);
  if (rows == 0 || W == 0) return;
  permute_heads<true><<<blocks_for(rows, kRowsPerBlock), kThreads, 0, ctx.stream()>>>(src, dst, rows, T, H, n_h, W);
  DB_CUDA_CHECK_LAUNCH();
}

void from_heads(const Context& ctx, const float* src, float* dst, int B, int T, int H, int n_h, int W) {
  const unsigned rows = layout_rows(B, T, H, n_h);
  if (rows == 0 || W == 0) return;
  permute_heads<false><<<blocks_for(rows, kRowsPerBlock), kThreads, 0, ctx.stream()>>>(src, dst, rows, T, H, n_h, W);
  DB_CUDA_CHECK_LAUNCH();
}

void to_heads_l2norm(const Context& ctx, const float* src, float* dst, float* rstd, int B, int T, int H, int n_h, int W,
                     float eps) {
  const unsigned rows = layout_rows(B, T, H, n_h);
  if (rows == 0 || W == 0) return;
  to_heads_l2norm_kernel<<<blocks_for(rows, kRowsPerBlock), kThreads, 0, ctx.stream()>>>(src, dst, rstd, rows, T, H,
                                                                                        n_h, W, eps);
  DB_CUDA_CHECK_LAUNCH();
}

void l2norm_backward_from_heads(const Context& ctx, const float* y, const float* rstd, const float* dy, float* dst,
                                int B, int T, int H, int n_h, int W) {
  const unsigned rows = layout_rows(B, T, H, n_h);
  if (rows == 0 || W == 0) return;
  l2norm_backward_from_heads_kernel<<<blocks_for(rows, kRowsPerBlock), kThreads, 0, ctx.stream()>>>(
      y, rstd, dy, dst, rows, T, H, n_h, W);
  DB_CUDA_CHECK_LAUNCH();
}

void beta_forward(const Context& ctx, const float* bp, float* beta, int B, int T, int H, int n_h, float c) {
  const size_t n = size_t(B) * H * T * n_h;
  if (n == 0) return;
  beta_forward_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(bp, beta, B, T, H, n_h, c);
  DB_CUDA_CHECK_LAUNCH();
}

void beta_backward(const Context& ctx, const float* beta, const float* dbeta, float* dbp, int B, int T, int H, int n_h,
                   float c) {
  const size_t n = size_t(B) * H * T * n_h;
  if (n == 0) return;
  beta_backward_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(beta, dbeta, dbp, B, T, H, n_h, c);
  DB_CUDA_CHECK_LAUNCH();
}

void gate_forward(const Context& ctx, const float* ap, const float* A_log, const float* dt_bias, float* g, float* z,
                  int B, int T, int H) {
  const size_t n = size_t(B) * H * T;
  if (n == 0) return;
  gate_forward_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(ap, A_log, dt_bias, g, z, B, T, H);
  DB_CUDA_CHECK_LAUNCH();
}

void gate_backward(const Context& ctx, const float* g, const float* z, const float* dg, const float* A_log, float* dap,
                   float* dA_log, float* ddt_bias, int B, int T, int H, DeviceBuffer<float>& partials) {
  if (B * H == 0) return;
  float* part = partials.resize(size_t(2) * B * H);
  gate_backward_sequences<<<blocks_for(size_t(B) * H, 64), 64, 0, ctx.stream()>>>(g, z, dg, A_log, dap, part, B, T, H);
  DB_CUDA_CHECK_LAUNCH();
  gate_backward_heads<<<blocks_for(H, 64), 64, 0, ctx.stream()>>>(part, dA_log, ddt_bias, B, H);
  DB_CUDA_CHECK_LAUNCH();
}

void fill(const Context& ctx, float* y, size_t n, float value) {
  if (n == 0) return;
  fill_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(y, n, value);
  DB_CUDA_CHECK_LAUNCH();
}

}  // namespace db::cuda
