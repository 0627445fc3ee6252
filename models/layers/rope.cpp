// rope.cpp: rotary position embedding and its inverse (see rope.h).
#include "models/layers/rope.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "models/core/registry.h"
#include "models/numerics/parallel.h"

namespace db {

Rope::Rope(int head_dim, double base) : K_(head_dim), base_(base) {
  if (head_dim <= 0 || head_dim % 2 != 0) throw std::invalid_argument("Rope: head_dim must be even");
}

void Rope::ensure_table(int len) {
  if (len <= len_) return;
  const int K2 = K_ / 2;
  cos_.resize(static_cast<size_t>(len) * K2);
  sin_.resize(static_cast<size_t>(len) * K2);
  for (int p = len_; p < len; ++p)
    for (int i = 0; i < K2; ++i) {
      // HF: inv_freq = 1 / base^(2i/K)
      const double angle = p * std::pow(base_, -2.0 * i / K_);
      cos_[static_cast<size_t>(p) * K2 + i] = static_cast<real>(std::cos(angle));
      sin_[static_cast<size_t>(p) * K2 + i] = static_cast<real>(std::sin(angle));
    }
  len_ = len;
}

void Rope::rotate(real* x, int B, int T, int H, int t0, Index row_stride, real sign) {
  ensure_table(t0 + T);
  const int K = K_, K2 = K_ / 2;
  const Index stride = row_stride > 0 ? row_stride : static_cast<Index>(H) * K;
  parallel_blocks(static_cast<Index>(B) * T, 64, static_cast<Index>(B) * T * H * K * 3, [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      const Index p = t0 + r % T;
      const real* c = cos_.data() + p * K2;
      const real* s = sin_.data() + p * K2;
      for (int h = 0; h < H; ++h) {
        real* v = x + r * stride + static_cast<Index>(h) * K;
        for (int i = 0; i < K2; ++i) {
          const real a = v[i], b = v[i + K2], sn = sign * s[i];
          v[i] = a * c[i] - b * sn;
          v[i + K2] = b * c[i] + a * sn;
        }
      }
    }
  });
}

void Rope::forward(real* x, int B, int T, int H, int t0, Index row_stride) {
  rotate(x, B, T, H, t0, row_stride, real(1));
}

void Rope::backward(real* dx, int B, int T, int H, int t0, Index row_stride) {
  rotate(dx, B, T, H, t0, row_stride, real(-1));
}

}  // namespace db
