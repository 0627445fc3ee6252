// linear.h: y = x W^T (+ b), the projection used by every mixer, the MLP and the LM head.
//
// Weight [out, in] named `<name>.weight` (PyTorch / fla layout, so names and shapes match the HF
// checkpoints), optional bias [out] `<name>.bias` (off by default: fla's projections have none).
// Init: weight ~ N(0, init_std) as fla's _init_weights, bias zeros (no weight decay on the bias).
// Products go through gemm.h, so results do not depend on the thread count.
// Two ways to call it: as a db::Module (forward copies x for backward), or through the stateless
// apply()/apply_backward() where the caller keeps x (mixers that already cache their input and
// feed one x to several projections, summing the dx with accumulate_dx).
// Shapes: rows = B*T, in = in_features, out = out_features.
#pragma once

#include <string>
#include <vector>

#include "models/core/module.h"
#include "models/core/params.h"

namespace db {

class Linear : public Module {
 public:
  Linear(ParamArena& arena, const std::string& name, int in_features, int out_features, bool bias = false,
         double init_std = 0.02);

  int in_dim() const override { return in_; }
  int out_dim() const override { return out_; }

  // x [B,T,in] -> y [B,T,out]; keeps a copy of x
  void forward(const real* x, real* y, int B, int T) override;
  // dy [B,T,out] -> dx [B,T,in] (overwritten); dW, db accumulate
  void backward(const real* dy, real* dx) override;

  // x [rows,in] -> y [rows,out]; no cache
  void apply(const real* x, real* y, Index rows) const;
  // x [rows,in] (the forward input), dy [rows,out] -> dx [rows,in] (overwritten, or added to when
  // accumulate_dx; skipped when null); dW += dy^T x, db += colsum(dy)
  void apply_backward(const real* x, const real* dy, real* dx, Index rows, bool accumulate_dx = false);

  Param weight;  // [out, in]
  Param bias;    // [out], invalid when bias = false

 private:
  int in_ = 0, out_ = 0;
  Index rows_ = 0;
  RealVector x_;  // [rows, in] copy of the last forward input
};

}  // namespace db
