// gpu_swiglu_mlp.cpp: GpuSwiGLUMLP (see gpu_swiglu_mlp.h).
//
// Backward with h = silu(g) u:  dh = dy Wdown,  dg = dh u silu'(g),  du = dh silu(g),
//   dx = dg Wgate + du Wup,  and each weight gets dW += d(out)^T in (GEMMs with beta 1: fixed
//   order inside cuBLAS, no atomics). dg overwrites dh, and (fp32 runs) du overwrites u in place, as the CPU.
#include "models/layers/cuda/gpu_swiglu_mlp.h"

#include <stdexcept>
#include <string>
#include <type_traits>

#include "models/cuda/blas.h"
#include "models/layers/cuda/swiglu.h"

namespace db::cuda {

namespace {
// a twin bound to a parameter of another shape would read past it: refuse at construction
DeviceParam sized(const ParamScope& scope, const std::string& name, size_t size) {
  DeviceParam p = scope(name);
  if (p.size != size)
    throw std::invalid_argument("GpuSwiGLUMLP: parameter '" + name + "' has " + std::to_string(p.size) +
                                " numbers, expected " + std::to_string(size));
  return p;
}
}  // namespace

GpuSwiGLUMLP::GpuSwiGLUMLP(const Context& ctx, const ParamScope& scope, int d_model, int hidden)
    : ctx_(ctx),
      gate_(sized(scope, "gate_proj.weight", static_cast<size_t>(hidden) * d_model)),
      up_(sized(scope, "up_proj.weight", static_cast<size_t>(hidden) * d_model)),
      down_(sized(scope, "down_proj.weight", static_cast<size_t>(hidden) * d_model)),
      D_(d_model),
      F_(hidden) {}

void GpuSwiGLUMLP::forward(const float* x, float* y, int B, int T) {
  rows_ = B * T;
  with_activation_type(ctx_, [&](auto type) { forward_as<decltype(type)>(x, y); });
}

void GpuSwiGLUMLP::backward(const float* dy, float* dx) {
  with_activation_type(ctx_, [&](auto type) { backward_as<decltype(type)>(dy, dx); });
}

template <class A>
void GpuSwiGLUMLP::forward_as(const float* x, float* y) {
  const size_t n = static_cast<size_t>(rows_) * F_, nx = static_cast<size_t>(rows_) * D_;
  const A* xs = x_.resize<A>(nx);
  store_activation(ctx_, x, x_.data<A>(), nx);
  A* g = g_.resize<A>(n);
  A* u = u_.resize<A>(n);
  A* h = h_.resize<A>(n);
  linear_forward(ctx_, xs, gate_.operand(ctx_), g, rows_, D_, F_);
  linear_forward(ctx_, xs, up_.operand(ctx_), u, rows_, D_, F_);
  swiglu_forward(ctx_, static_cast<const A*>(g), static_cast<const A*>(u), h, static_cast<long long>(n));
  linear_forward(ctx_, static_cast<const A*>(h), down_.operand(ctx_), y, rows_, F_, D_);
}

template <class A>
void GpuSwiGLUMLP::backward_as(const float* dy, float* dx) {
  const size_t n = static_cast<size_t>(rows_) * F_;
  const A *xs = x_.data<A>(), *g = g_.data<A>(), *u = u_.data<A>(), *h = h_.data<A>();
  float* dh = dg_.resize(n);
  float* du;
  if constexpr (std::is_same_v<A, float>)
    du = u_.data<float>();  // u is read before du is written, element by element
  else
    du = du_.resize(n);
  linear_backward(ctx_, h, dy, down_.operand(ctx_), down_.grad, dh, rows_, F_, D_);
  swiglu_backward(ctx_, g, u, dh, /*dg=*/dh, du, static_cast<long long>(n));
  linear_backward(ctx_, xs, dh, gate_.operand(ctx_), gate_.grad, dx, rows_, D_, F_);
  linear_backward(ctx_, xs, du, up_.operand(ctx_), up_.grad, dx, rows_, D_, F_, /*beta=*/1.f);
}

}  // namespace db::cuda
