// swiglu_mlp.cpp: SwiGLU MLP forward and backward (see swiglu_mlp.h).
//
// Backward with h = silu(g) u:  dh = dy Wdown,  dg = dh u silu'(g),  du = dh silu(g),
//   dx = dg Wgate + du Wup,  and each weight gets its own dW += d(out)^T in.
// With s = sigmoid(g) from the forward, silu(g) = g s and silu'(g) = s (1 + g (1 - s)).
#include "models/layers/swiglu_mlp.h"

#include "models/core/registry.h"
#include "models/numerics/activation_buffers.h"
#include "models/numerics/activations.h"
#include "models/numerics/parallel.h"

namespace db {

int swiglu_hidden_size(int d_model, double hidden_ratio) {
  const int h = static_cast<int>(d_model * hidden_ratio * 2.0 / 3.0);
  return 256 * ((h + 255) / 256);
}

// "<name>.gate_proj" is one scope element, which gives the full name <scope>.<name>.gate_proj.weight
SwiGLUMLP::SwiGLUMLP(ParamArena& arena, const std::string& name, int d_model, int hidden, double init_std)
    : gate_proj(arena, name + ".gate_proj", d_model, hidden, false, init_std),
      up_proj(arena, name + ".up_proj", d_model, hidden, false, init_std),
      down_proj(arena, name + ".down_proj", hidden, d_model, false, init_std),
      D_(d_model),
      F_(hidden) {}

void SwiGLUMLP::forward(const real* x, real* y, int B, int T) {
  rows_ = static_cast<Index>(B) * T;
  const Index n = rows_ * F_;
  x_.assign(x, x + rows_ * D_);
  g_.resize(n);
  s_.resize(n);
  u_.resize(n);
  h_.resize(n);
  gate_proj.apply(x, g_.data(), rows_);
  up_proj.apply(x, u_.data(), rows_);
  parallel_blocks(n, 4096, 16 * n, [&](Index i0, Index i1) {
    sigmoid_buffer(g_.data() + i0, s_.data() + i0, i1 - i0);
    for (Index i = i0; i < i1; ++i) h_[i] = g_[i] * s_[i] * u_[i];
  });
  down_proj.apply(h_.data(), y, rows_);
}

void SwiGLUMLP::backward(const real* dy, real* dx) {
  const Index n = rows_ * F_;
  // dh [rows,F] into dg_, then dWdown += dy^T h
  dg_.resize(n);
  down_proj.apply_backward(h_.data(), dy, dg_.data(), rows_);
  // dg = dh u silu'(g) in place; du = dh silu(g) overwrites u (a backward consumes its forward)
  parallel_blocks(n, 4096, 16 * n, [&](Index i0, Index i1) {
    for (Index i = i0; i < i1; ++i) {
      const real dh = dg_[i], g = g_[i], s = s_[i];
      dg_[i] = dh * u_[i] * silu_grad_from_sigmoid(g, s);
      u_[i] = dh * g * s;
    }
  });
  gate_proj.apply_backward(x_.data(), dg_.data(), dx, rows_, /*accumulate_dx=*/false);
  up_proj.apply_backward(x_.data(), u_.data(), dx, rows_, /*accumulate_dx=*/true);
}

extern const ModuleEntry swiglu_mlp_module_entry{"swiglu_mlp", "SwiGLU MLP, D=6, hidden 8", [](ParamArena& arena) {
                                                   return std::make_unique<SwiGLUMLP>(arena, "mlp", 6, 8);
                                                 }};

}  // namespace db
