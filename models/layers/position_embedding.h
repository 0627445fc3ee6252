// position_embedding.h: learned absolute position embedding, y[b,t] = x[b,t] + P[t0 + t].
//
// For baselines without recurrence or RoPE (GPT-2's wpe). Table [T_max, D] `<name>.weight`,
// ~ N(0, init_std). A db::Module (D -> D, it adds the table to its input) so the generic gradient
// check covers it; t0 lets a caller continue positions across calls. dP is summed over the batch
// with the positions split over threads, so bits do not depend on the thread count.
// Shapes: B batch, T time, D width, T_max table length.
#pragma once

#include <string>

#include "models/core/module.h"
#include "models/core/params.h"

namespace db {

class PositionEmbedding : public Module {
 public:
  PositionEmbedding(ParamArena& arena, const std::string& name, int max_len, int dim, double init_std = 0.02);
  int in_dim() const override { return D_; }
  int out_dim() const override { return D_; }
  int max_len() const { return Tmax_; }

  // x [B,T,D] -> y [B,T,D] = x + P[0:T] (y may alias x); throws std::out_of_range if T > T_max
  void forward(const real* x, real* y, int B, int T) override { forward_at(x, y, B, T, 0); }
  // the same with positions t0 .. t0+T-1
  void forward_at(const real* x, real* y, int B, int T, int t0);
  // dy [B,T,D] -> dx = dy (overwritten; may alias dy); P grad rows += sum over the batch
  void backward(const real* dy, real* dx) override;

  Param weight;  // [T_max, D]

 private:
  int Tmax_, D_;
  int B_ = 0, T_ = 0, t0_ = 0;
};

}  // namespace db
