// embedding.h: token embedding, ids [B,T] -> rows of a [N, D] table.
//
// The model's input layer (fla: model.embeddings.weight, ~ N(0, init_std)). Not a db::Module since
// its input is integer ids; tested directly. Backward adds each dy row into the gradient row of its
// id; the columns are split over threads and every column visits the tokens in order, so repeated
// ids sum in a fixed order whatever the thread count.
// Shapes: B batch, T time, N vocabulary, D width.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/core/params.h"

namespace db {

class Embedding {
 public:
  Embedding(ParamArena& arena, const std::string& name, int num_embeddings, int dim, double init_std = 0.02);
  int num_embeddings() const { return N_; }
  int dim() const { return D_; }

  // ids [B,T] in [0,N) -> y [B,T,D]; keeps the ids (throws std::out_of_range for a bad id)
  void forward(const int32_t* ids, real* y, int B, int T);
  // dy [B,T,D]: weight grad rows += dy rows of their ids
  void backward(const real* dy);

  Param weight;  // [N, D]

 private:
  int N_, D_;
  std::vector<int32_t> ids_;  // [B*T]
};

}  // namespace db
