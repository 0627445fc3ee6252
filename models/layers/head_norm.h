// head_norm.h: the mixers' output norm, a per-head RMSNorm with one weight shared by all heads,
// optionally gated: y = rmsnorm(o_h) * w (* silu(gate_h)).
//
// fla's o_norm (RMSNorm(head_v_dim), or FusedRMSNormGated with the 'swish' activation when the
// mixer has an output gate). Weight [V] `<name>.weight`, ones, no weight decay. o is [rows, H*V]
// with heads contiguous inside a row, normalised as the [rows*H, V] view (rmsnorm.h), so the weight
// gradient sums over rows and heads in a fixed order.
// Shapes: rows = B*T, H heads, V value dim per head.
#pragma once

#include <string>
#include <vector>

#include "models/core/module.h"
#include "models/core/params.h"

namespace db {

class HeadNorm {
 public:
  HeadNorm(ParamArena& arena, const std::string& name, int heads, int head_dim, double eps = 1e-5);
  int heads() const { return H_; }
  int head_dim() const { return V_; }

  // o [rows,H*V], gate [rows,H*V] or null (no gate) -> y [rows,H*V]; keeps o, gate and rstd
  void forward(const real* o, const real* gate, real* y, Index rows);
  // dy [rows,H*V] -> d_o [rows,H*V] (overwritten; may alias dy), dgate [rows,H*V] (overwritten;
  // must not alias dy; may be null, and is not touched when the forward had no gate);
  // the weight grad accumulates
  void backward(const real* dy, real* d_o, real* dgate);

  Param weight;  // [V]

 private:
  int H_, V_;
  real eps_;
  Index rows_ = 0;
  bool gated_ = false;
  RealVector o_;        // [rows, H*V]
  RealVector gate_;     // [rows, H*V] (when gated)
  RealVector gate_sigmoid_;  // [rows, H*V] sigmoid(gate) (when gated), so the backward needs no exp
  RealVector rstd_;     // [rows*H]
  RealVector scratch_;  // reduction partials
};

}  // namespace db
