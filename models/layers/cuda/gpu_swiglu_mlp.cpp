// gpu_swiglu_mlp.cpp: GpuSwiGLUMLP (see gpu_swiglu_mlp.h).
//
// Backward with h = silu(g) u:  dh = dy Wdown,  dg = dh u silu'(g),  du = dh silu(g),
//   dx = dg Wgate + du Wup,  and each weight gets dW += d(out)^T in (GEMMs with beta 1: fixed
//   order inside cuBLAS, no atomics). dg overwrites dh and du overwrites u in place, as the CPU.
#include "models/layers/cuda/gpu_swiglu_mlp.h"

#include <stdexcept>
#include <string>

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
  const size_t n = static_cast<size_t>(rows_) * F_, nx = static_cast<size_t>(rows_) * D_;
  x_.resize(nx);
  if (nx) DB_CUDA_CHECK(cudaMemcpyAsync(x_.data(), x, nx * sizeof(float), cudaMemcpyDeviceToDevice, ctx_.stream()));
  linear_forward(ctx_, x_.data(), gate_.value, g_.resize(n), rows_, D_, F_);
  linear_forward(ctx_, x_.data(), up_.value, u_.resize(n), rows_, D_, F_);
  swiglu_forward(ctx_, g_.data(), u_.data(), h_.resize(n), static_cast<long long>(n));
  linear_forward(ctx_, h_.data(), down_.value, y, rows_, F_, D_);
}

void GpuSwiGLUMLP::backward(const float* dy, float* dx) {
  const size_t n = static_cast<size_t>(rows_) * F_;
  float* dh = dg_.resize(n);
  linear_backward_input(ctx_, dy, down_.value, dh, rows_, F_, D_);
  linear_backward_weight(ctx_, h_.data(), dy, down_.grad, rows_, F_, D_);
  swiglu_backward(ctx_, g_.data(), u_.data(), dh, /*dg=*/dh, /*du=*/u_.data(), static_cast<long long>(n));
  linear_backward_input(ctx_, dh, gate_.value, dx, rows_, D_, F_);
  linear_backward_input(ctx_, u_.data(), up_.value, dx, rows_, D_, F_, /*beta=*/1.f);
  linear_backward_weight(ctx_, x_.data(), dh, gate_.grad, rows_, D_, F_);
  linear_backward_weight(ctx_, x_.data(), u_.data(), up_.grad, rows_, D_, F_);
}

}  // namespace db::cuda
