// rope.cu: the RoPE table and rotation kernels (see rope.h).
#include "models/layers/cuda/rope.h"

#include <stdexcept>

namespace db::cuda {

namespace {

// thread per (position, pair); double as the CPU's table, then rounded once
__global__ void fill_rope_table(float* cos_table, float* sin_table, int len, int K, double base) {
  const int K2 = K / 2;
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<long long>(len) * K2) return;
  const int p = static_cast<int>(idx / K2), i = static_cast<int>(idx % K2);
  const double angle = p * pow(base, -2.0 * i / K);
  cos_table[idx] = static_cast<float>(cos(angle));
  sin_table[idx] = static_cast<float>(sin(angle));
}

// thread per (row, head, pair)
__global__ void rotate_pairs(float* x, const float* cos_table, const float* sin_table, int T, int H, int K, int t0,
                             long long stride, float sign, long long total) {
  const int K2 = K / 2;
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= total) return;
  const int i = static_cast<int>(idx % K2);
  const long long rh = idx / K2;
  const int h = static_cast<int>(rh % H);
  const long long r = rh / H;
  const long long p = t0 + r % T;
  const float c = cos_table[p * K2 + i], sn = sign * sin_table[p * K2 + i];
  float* v = x + r * stride + static_cast<long long>(h) * K;
  const float a = v[i], b = v[i + K2];
  v[i] = a * c - b * sn;
  v[i + K2] = b * c + a * sn;
}

}  // namespace

void rope_cos_sin_table(const Context& ctx, float* cos_table, float* sin_table, int len, int head_dim, double base) {
  const long long total = static_cast<long long>(len) * (head_dim / 2);
  if (total == 0) return;
  fill_rope_table<<<blocks_for(total), kThreads, 0, ctx.stream()>>>(cos_table, sin_table, len, head_dim, base);
  DB_CUDA_CHECK_LAUNCH();
}

void rope_apply(const Context& ctx, float* x, const float* cos_table, const float* sin_table, int B, int T, int H,
                int head_dim, int t0, long long row_stride, float sign) {
  const long long total = static_cast<long long>(B) * T * H * (head_dim / 2);
  if (total == 0) return;
  const long long stride = row_stride > 0 ? row_stride : static_cast<long long>(H) * head_dim;
  rotate_pairs<<<blocks_for(total), kThreads, 0, ctx.stream()>>>(x, cos_table, sin_table, T, H, head_dim, t0, stride,
                                                                 sign, total);
  DB_CUDA_CHECK_LAUNCH();
}

GpuRope::GpuRope(int head_dim, double base) : K_(head_dim), base_(base) {
  if (head_dim <= 0 || head_dim % 2 != 0) throw std::invalid_argument("Rope: head_dim must be even");
}

void GpuRope::ensure_table(const Context& ctx, int len) {
  if (len <= len_) return;
  // growth keeps nothing, so the whole table is recomputed
  const size_t n = static_cast<size_t>(len) * (K_ / 2);
  rope_cos_sin_table(ctx, cos_.resize(n), sin_.resize(n), len, K_, base_);
  len_ = len;
}

void GpuRope::forward(const Context& ctx, float* x, int B, int T, int H, int t0, long long row_stride) {
  ensure_table(ctx, t0 + T);
  rope_apply(ctx, x, cos_.data(), sin_.data(), B, T, H, K_, t0, row_stride, 1.f);
}

void GpuRope::backward(const Context& ctx, float* dx, int B, int T, int H, int t0, long long row_stride) {
  ensure_table(ctx, t0 + T);
  rope_apply(ctx, dx, cos_.data(), sin_.data(), B, T, H, K_, t0, row_stride, -1.f);
}

}  // namespace db::cuda
