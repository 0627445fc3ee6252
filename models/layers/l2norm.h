// l2norm.h: row-wise L2 normalisation, y = x / sqrt(sum x^2 + eps), eps inside the sqrt.
//
// fla normalises q and k per head inside the delta-rule op (fla/modules/l2norm.py, eps 1e-6 inside
// the sqrt). A [rows, H*K] buffer normalised per head is the [rows*H, K] view of the same memory.
// rstd = 1/sqrt(sum x^2 + eps) is saved; backward: dx = rstd (dy - (dy . y) y).
// Rows are independent and split over threads in fixed blocks.
// Shapes: rows (e.g. B*T*H), dim (e.g. K).
#pragma once

#include <vector>

#include "models/core/module.h"

namespace db {

constexpr double kL2NormEps = 1e-6;

// x [rows,dim] -> y [rows,dim] (may alias x), rstd [rows]
void l2norm_forward(const real* x, real* y, real* rstd, Index rows, int dim, real eps = real(kL2NormEps));
// y, rstd from the forward, dy [rows,dim] -> dx [rows,dim] (overwritten; may alias dy)
void l2norm_backward(const real* y, const real* rstd, const real* dy, real* dx, Index rows, int dim);

// Module wrapper (no parameters) so the gradient checker covers it; normalises groups of `dim`
// numbers inside each row of width heads*dim.
class L2Norm : public Module {
 public:
  L2Norm(int heads, int dim, double eps = kL2NormEps) : H_(heads), K_(dim), eps_(static_cast<real>(eps)) {}
  int in_dim() const override { return H_ * K_; }
  int out_dim() const override { return H_ * K_; }
  // x [B,T,H*K] -> y [B,T,H*K]; keeps y and rstd
  void forward(const real* x, real* y, int B, int T) override;
  // dy [B,T,H*K] -> dx [B,T,H*K] (overwritten)
  void backward(const real* dy, real* dx) override;

 private:
  int H_, K_;
  real eps_;
  Index rows_ = 0;          // B*T*H
  RealVector y_;     // [B*T*H, K]
  RealVector rstd_;  // [B*T*H]
};

}  // namespace db
