// position_embedding.cpp: learned absolute positions added to the input (see position_embedding.h).
#include "models/layers/position_embedding.h"

#include <algorithm>
#include <stdexcept>

#include "models/core/registry.h"
#include "models/numerics/parallel.h"

namespace db {

PositionEmbedding::PositionEmbedding(ParamArena& arena, const std::string& name, int max_len, int dim, double init_std)
    : Tmax_(max_len), D_(dim) {
  ParamArena::Scope scope(arena, name);
  weight = arena.add("weight", {max_len, dim}, ParamInit::normal(init_std));
}

void PositionEmbedding::forward_at(const real* x, real* y, int B, int T, int t0) {
  if (t0 < 0 || t0 + T > Tmax_)
    throw std::out_of_range("PositionEmbedding: positions [" + std::to_string(t0) + ", " + std::to_string(t0 + T) +
                            ") exceed the table length " + std::to_string(Tmax_));
  B_ = B;
  T_ = T;
  t0_ = t0;
  const real* P = weight.data();
  parallel_blocks(static_cast<Index>(B) * T, 256, static_cast<Index>(B) * T * D_, [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      const real* p = P + (t0 + r % T) * static_cast<Index>(D_);
      for (int c = 0; c < D_; ++c) y[r * D_ + c] = x[r * D_ + c] + p[c];
    }
  });
}

void PositionEmbedding::backward(const real* dy, real* dx) {
  const Index n = static_cast<Index>(B_) * T_ * D_;
  if (dx != dy) std::copy(dy, dy + n, dx);
  real* G = weight.grad();
  // split over positions (parameter rows): each sums its batch entries in order
  parallel_blocks(T_, 16, static_cast<Index>(B_) * T_ * D_, [&](Index ta, Index tb) {
    for (Index t = ta; t < tb; ++t) {
      real* g = G + (t0_ + t) * D_;
      for (int b = 0; b < B_; ++b) {
        const real* d = dy + (static_cast<Index>(b) * T_ + t) * D_;
        for (int c = 0; c < D_; ++c) g[c] += d[c];
      }
    }
  });
}

extern const ModuleEntry position_embedding_module_entry{
    "position_embedding", "learned absolute positions, T_max 16, D=6",
    [](ParamArena& arena) { return std::make_unique<PositionEmbedding>(arena, "wpe", 16, 6); }};

}  // namespace db
