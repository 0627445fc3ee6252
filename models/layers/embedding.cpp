// embedding.cpp: token embedding lookup and its scatter-add backward (see embedding.h).
#include "models/layers/embedding.h"

#include <algorithm>
#include <stdexcept>

#include "models/numerics/parallel.h"

namespace db {

Embedding::Embedding(ParamArena& arena, const std::string& name, int num_embeddings, int dim, double init_std)
    : N_(num_embeddings), D_(dim) {
  ParamArena::Scope scope(arena, name);
  weight = arena.add("weight", {num_embeddings, dim}, ParamInit::normal(init_std));
}

void Embedding::forward(const int32_t* ids, real* y, int B, int T) {
  const Index n = static_cast<Index>(B) * T;
  ids_.assign(ids, ids + n);
  for (Index i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= N_)
      throw std::out_of_range("Embedding: token id " + std::to_string(ids[i]) + " outside [0, " + std::to_string(N_) +
                              ")");
  const real* w = weight.data();
  parallel_blocks(n, 256, n * D_, [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) std::copy(w + Index(ids[r]) * D_, w + Index(ids[r] + 1) * D_, y + r * D_);
  });
}

void Embedding::backward(const real* dy) {
  const Index n = static_cast<Index>(ids_.size());
  real* g = weight.grad();
  // split over columns: each column's additions happen in token order
  parallel_blocks(D_, 16, n * D_, [&](Index c0, Index c1) {
    for (Index r = 0; r < n; ++r) {
      real* gr = g + Index(ids_[r]) * D_;
      const real* d = dy + r * D_;
      for (Index c = c0; c < c1; ++c) gr[c] += d[c];
    }
  });
}

}  // namespace db
