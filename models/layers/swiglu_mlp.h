// swiglu_mlp.h: fla's GatedMLP with SwiGLU, y = down(silu(gate(x)) * up(x)), no biases.
//
// The channel mixer of every block (fla/modules/mlp.py). Parameters `<name>.gate_proj.weight`
// [hidden, D], `<name>.up_proj.weight` [hidden, D], `<name>.down_proj.weight` [D, hidden], all
// ~ N(0, init_std). The hidden size is given; swiglu_hidden_size() gives fla's default.
// Shapes: rows = B*T, D model width, F hidden size.
#pragma once

#include <string>
#include <vector>

#include "models/core/module.h"
#include "models/core/params.h"
#include "models/layers/linear.h"

namespace db {

// fla's intermediate_size when None: 256 * ceil(int(d_model * hidden_ratio * 2/3) / 256)
// (2048 -> 5632, 128 -> 512)
int swiglu_hidden_size(int d_model, double hidden_ratio = 4);

class SwiGLUMLP : public Module {
 public:
  SwiGLUMLP(ParamArena& arena, const std::string& name, int d_model, int hidden, double init_std = 0.02);
  int in_dim() const override { return D_; }
  int out_dim() const override { return D_; }
  int hidden() const { return F_; }
  // x [B,T,D] -> y [B,T,D]; keeps x, gate and up activations
  void forward(const real* x, real* y, int B, int T) override;
  // dy [B,T,D] -> dx [B,T,D] (overwritten); the three weight grads accumulate
  void backward(const real* dy, real* dx) override;

  Linear gate_proj;  // D -> F
  Linear up_proj;    // D -> F
  Linear down_proj;  // F -> D

 private:
  int D_, F_;
  Index rows_ = 0;
  RealVector x_;   // [rows, D]
  RealVector g_;   // [rows, F] gate pre-activation
  RealVector s_;   // [rows, F] sigmoid(g), kept so the backward needs no exp
  RealVector u_;   // [rows, F] up projection; du after backward
  RealVector h_;   // [rows, F] silu(g) * u
  RealVector dg_;  // [rows, F] dh, then dg
};

}  // namespace db
