// head_norm.cpp: per-head (gated) RMSNorm with a shared weight (see head_norm.h).
//
// Gated backward, with n = rmsnorm(o) w and s = silu(gate):
//   dgate = dy n silu'(gate),  dn = dy s,  then the RMSNorm backward of dn gives d_o and dw;
//   with sg = sigmoid(gate) kept from the forward, s = gate sg and silu'(gate) = sg (1 + gate (1 - sg)).
#include "models/layers/head_norm.h"

#include <algorithm>

#include "models/core/registry.h"
#include "models/layers/activation_buffers.h"
#include "models/layers/activations.h"
#include "models/layers/parallel.h"
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

HeadNormModule::HeadNormModule(ParamArena& arena, const std::string& name, int heads, int head_dim, bool gated,
                               double eps)
    : norm_(arena, name, heads, head_dim, eps), gated_(gated) {}

void HeadNormModule::forward(const real* x, real* y, int B, int T) {
  rows_ = static_cast<Index>(B) * T;
  const int W = out_dim(), in = in_dim();
  o_.resize(rows_ * W);
  g_.resize(gated_ ? rows_ * W : 0);
  for (Index r = 0; r < rows_; ++r) {
    std::copy(x + r * in, x + r * in + W, o_.data() + r * W);
    if (gated_) std::copy(x + r * in + W, x + r * in + 2 * W, g_.data() + r * W);
  }
  norm_.forward(o_.data(), gated_ ? g_.data() : nullptr, y, rows_);
}

void HeadNormModule::backward(const real* dy, real* dx) {
  const int W = out_dim(), in = in_dim();
  do_.resize(rows_ * W);
  dg_.resize(gated_ ? rows_ * W : 0);
  norm_.backward(dy, do_.data(), gated_ ? dg_.data() : nullptr);
  for (Index r = 0; r < rows_; ++r) {
    std::copy(do_.data() + r * W, do_.data() + (r + 1) * W, dx + r * in);
    if (gated_) std::copy(dg_.data() + r * W, dg_.data() + (r + 1) * W, dx + r * in + W);
  }
}

extern const ModuleEntry head_norm_module_entry{
    "head_norm", "per-head RMSNorm, 2 heads of 4, shared weight",
    [](ParamArena& arena) { return std::make_unique<HeadNormModule>(arena, "o_norm", 2, 4, false); }};

extern const ModuleEntry head_norm_gated_module_entry{
    "head_norm_gated", "per-head RMSNorm * silu(gate), 2 heads of 4; input [o | gate]",
    [](ParamArena& arena) { return std::make_unique<HeadNormModule>(arena, "o_norm", 2, 4, true); }};

}  // namespace db
