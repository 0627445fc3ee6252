// layernorm.h: LayerNorm, y = (x - mean) * rsqrt(var + eps) * w + b.
//
// For baselines that use it (GPT-style blocks). Weight [dim] ones `<name>.weight`, bias [dim] zeros
// `<name>.bias`, neither decayed. Rows split over threads; parameter gradients reduced over fixed
// row blocks, so bits do not depend on the thread count. Shapes: rows = B*T, dim = D.
#pragma once

#include <string>
#include <vector>

#include "models/core/module.h"
#include "models/core/params.h"

namespace db {

class LayerNorm : public Module {
 public:
  LayerNorm(ParamArena& arena, const std::string& name, int dim, double eps = 1e-5);
  int in_dim() const override { return dim_; }
  int out_dim() const override { return dim_; }
  // x [B,T,dim] -> y [B,T,dim]; keeps xhat and rstd
  void forward(const real* x, real* y, int B, int T) override;
  // dy [B,T,dim] -> dx [B,T,dim] (overwritten); weight and bias grads accumulate
  void backward(const real* dy, real* dx) override;

  Param weight;  // [dim]
  Param bias;    // [dim]

 private:
  int dim_;
  real eps_;
  Index rows_ = 0;
  RealVector xhat_;     // [rows, dim] normalised input
  RealVector rstd_;     // [rows]
  RealVector scratch_;  // reduction partials [blocks, 2*dim]
  RealVector dwdb_;     // [2*dim] reduced [dw | db] of one backward
};

}  // namespace db
