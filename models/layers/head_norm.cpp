// head_norm.cpp: per-head (gated) RMSNorm with a shared weight (see head_norm.h).
//
// Gated backward, with n = rmsnorm(o) w and s = silu(gate):
//   dgate = dy n silu'(gate),  dn = dy s,  then the RMSNorm backward of dn gives d_o and dw;
//   with sg = sigmoid(gate) kept from the forward, s = gate sg and silu'(gate) = sg (1 + gate (1 - sg)).
#include "models/layers/head_norm.h"

#include <algorithm>

#include "models/core/registry.h"
#include "models/numerics/activation_buffers.h"
#include "models/numerics/activations.h"
#include "models/numerics/parallel.h"
#include "models/layers/rmsnorm.h"

namespace db {

HeadNorm::HeadNorm(ParamArena& arena, const std::string& name, int heads, int head_dim, double eps)
    : H_(heads), V_(head_dim), eps_(static_cast<real>(eps)) {
  ParamArena::Scope scope(arena, name);
  weight = arena.add("weight", {head_dim}, ParamInit::ones(), /*weight_decay=*/false);
}

void HeadNorm::forward(const real* o, const real* gate, real* y, Index rows) {
  rows_ = rows;
  gated_ = gate != nullptr;
  const Index n = rows * H_ * V_;
  o_.assign(o, o + n);
  rstd_.resize(rows * H_);
  rmsnorm_forward(o, weight.data(), y, rstd_.data(), rows * H_, V_, eps_);
  if (gated_) {
    gate_.assign(gate, gate + n);
    gate_sigmoid_.resize(n);
    parallel_blocks(n, 4096, 8 * n, [&](Index i0, Index i1) {
      sigmoid_buffer(gate + i0, gate_sigmoid_.data() + i0, i1 - i0);
      for (Index i = i0; i < i1; ++i) y[i] *= gate[i] * gate_sigmoid_[i];
    });
  }
}

void HeadNorm::backward(const real* dy, real* d_o, real* dgate) {
  const real* dn = dy;
  if (gated_) {
    const real* w = weight.data();
    const int V = V_;
    parallel_blocks(rows_ * H_, 256, 16 * rows_ * H_ * V, [&](Index r0, Index r1) {
      for (Index r = r0; r < r1; ++r) {
        const real rs = rstd_[r];
        for (int j = 0; j < V; ++j) {
          const Index i = r * V + j;
          const real g = gate_[i], sg = gate_sigmoid_[i], gy = dy[i];
          if (dgate) dgate[i] = gy * o_[i] * rs * w[j] * silu_grad_from_sigmoid(g, sg);
          d_o[i] = gy * g * sg;
        }
      }
    });
    dn = d_o;
  }
  rmsnorm_backward(o_.data(), weight.data(), rstd_.data(), dn, d_o, weight.grad(), rows_ * H_, V_, scratch_);
}

}  // namespace db
