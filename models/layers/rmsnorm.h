// rmsnorm.h: RMSNorm, y = x * rsqrt(mean(x^2) + eps) * w (fla/modules/layernorm.py, Llama).
//
// The block pre-norms and the final norm. Weight [dim] `<name>.weight`, initialised to ones, no
// weight decay. The free functions work on any [rows, dim] view, so the per-head output norm
// (head_norm.h) reuses them on [rows*H, V]. Rows are independent and split over threads; the
// weight gradient is reduced over fixed row blocks (parallel.h), so bits do not depend on threads.
// Shapes: rows = B*T (or B*T*H), dim = the normalised width.
#pragma once

#include <string>
#include <vector>

#include "models/core/module.h"
#include "models/core/params.h"

namespace db {

// x [rows,dim], w [dim] -> y [rows,dim], rstd [rows] = 1/sqrt(mean(x^2)+eps)
void rmsnorm_forward(const real* x, const real* w, real* y, real* rstd, Index rows, int dim, real eps);
// x, rstd from the forward, dy [rows,dim] -> dx [rows,dim] (overwritten; may alias dy);
// dw [dim] += sum_rows dy * x * rstd (skipped when null). scratch holds block partials.
void rmsnorm_backward(const real* x, const real* w, const real* rstd, const real* dy, real* dx, real* dw, Index rows,
                      int dim, RealVector& scratch);

class RMSNorm : public Module {
 public:
  RMSNorm(ParamArena& arena, const std::string& name, int dim, double eps = 1e-6);
  int in_dim() const override { return dim_; }
  int out_dim() const override { return dim_; }
  // x [B,T,dim] -> y [B,T,dim]; keeps x and rstd
  void forward(const real* x, real* y, int B, int T) override;
  // dy [B,T,dim] -> dx [B,T,dim] (overwritten); weight grad accumulates
  void backward(const real* dy, real* dx) override;

  Param weight;  // [dim]

 private:
  int dim_;
  real eps_;
  Index rows_ = 0;
  RealVector x_;        // [rows, dim]
  RealVector rstd_;     // [rows]
  RealVector scratch_;  // reduction partials
};

}  // namespace db
