// multi_head_layernorm.cpp: per-head LayerNorm with a per-channel weight (see the header).
//
// Backward per (row, head), with xhat = (x - mean) r over the head's V channels:
//   g = dy w,  dx = r (g - mean(g) - xhat mean(g xhat)),  dw += sum_rows dy xhat.
#include "models/layers/multi_head_layernorm.h"

#include <cmath>

#include "models/core/registry.h"
#include "models/numerics/parallel.h"

namespace db {

MultiHeadLayerNorm::MultiHeadLayerNorm(ParamArena& arena, const std::string& name, int heads, int head_dim,
                                       double eps)
    : H_(heads), V_(head_dim), eps_(static_cast<real>(eps)) {
  ParamArena::Scope scope(arena, name);
  weight = arena.add("weight", {int64_t{heads} * head_dim}, ParamInit::ones(), /*weight_decay=*/false);
}

void MultiHeadLayerNorm::forward(const real* x, real* y, Index rows) {
  rows_ = rows;
  const int H = H_, V = V_, W = H_ * V_;
  xhat_.resize(rows * W);
  rstd_.resize(rows * H);
  const real* w = weight.data();
  parallel_blocks(rows, 64, 8 * rows * W, [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r)
      for (int h = 0; h < H; ++h) {
        const Index off = r * W + Index(h) * V;
        const real* xr = x + off;
        real* hr = xhat_.data() + off;
        real mean = 0;
        for (int j = 0; j < V; ++j) mean += xr[j];
        mean /= real(V);
        real var = 0;
        for (int j = 0; j < V; ++j) var += (xr[j] - mean) * (xr[j] - mean);
        var /= real(V);
        const real rs = real(1) / std::sqrt(var + eps_);
        rstd_[r * H + h] = rs;
        for (int j = 0; j < V; ++j) {
          hr[j] = (xr[j] - mean) * rs;
          y[off + j] = hr[j] * w[h * V + j];
        }
      }
  });
}

void MultiHeadLayerNorm::backward(const real* dy, real* dx) {
  const int H = H_, V = V_, W = H_ * V_;
  const real* w = weight.data();
  parallel_reduce_rows(rows_, W, weight.grad(), scratch_, 8 * rows_ * W, [&](Index r0, Index r1, real* part) {
    for (Index r = r0; r < r1; ++r)
      for (int h = 0; h < H; ++h) {
        const Index off = r * W + Index(h) * V;
        const real* hr = xhat_.data() + off;
        real m1 = 0, m2 = 0;  // mean(g), mean(g xhat)
        for (int j = 0; j < V; ++j) {
          const real g = dy[off + j] * w[h * V + j];
          m1 += g;
          m2 += g * hr[j];
          part[h * V + j] += dy[off + j] * hr[j];
        }
        m1 /= real(V);
        m2 /= real(V);
        const real rs = rstd_[r * H + h];
        // dy is read at index off + j before dx overwrites it there (dx may alias dy)
        for (int j = 0; j < V; ++j) dx[off + j] = rs * (dy[off + j] * w[h * V + j] - m1 - hr[j] * m2);
      }
  });
}

extern const ModuleEntry multi_head_layernorm_module_entry{
    "multi_head_layernorm", "per-head LayerNorm, 2 heads of 3 channels, eps 1e-5",
    [](ParamArena& arena) { return std::make_unique<MultiHeadLayerNorm>(arena, "norm", 2, 3, 1e-5); }};

}  // namespace db
