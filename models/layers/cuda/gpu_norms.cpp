// gpu_norms.cpp: GpuRMSNorm and GpuLayerNorm (see gpu_norms.h).
//
// The RMSNorm forward copies x into its own buffer (the GpuModule contract: the caller's x may be
// rewritten before the backward); LayerNorm keeps xhat instead, as the CPU does.
#include "models/layers/cuda/gpu_norms.h"

#include <stdexcept>
#include <string>

#include "models/layers/cuda/norms.h"

namespace db::cuda {

namespace {
// a twin bound to a parameter of another shape would read past it: refuse at construction
DeviceParam sized(const ParamScope& scope, const std::string& name, size_t size, const char* who) {
  DeviceParam p = scope(name);
  if (p.size != size)
    throw std::invalid_argument(std::string(who) + ": parameter '" + name + "' has " + std::to_string(p.size) +
                                " numbers, expected " + std::to_string(size));
  return p;
}
}  // namespace

GpuRMSNorm::GpuRMSNorm(const Context& ctx, const ParamScope& scope, int dim, double eps)
    : ctx_(ctx), weight_(sized(scope, "weight", dim, "GpuRMSNorm")), dim_(dim), eps_(static_cast<float>(eps)) {}

void GpuRMSNorm::forward(const float* x, float* y, int B, int T) {
  rows_ = static_cast<long long>(B) * T;
  const size_t n = static_cast<size_t>(rows_) * dim_;
  x_.resize(n);
  if (n) DB_CUDA_CHECK(cudaMemcpyAsync(x_.data(), x, n * sizeof(float), cudaMemcpyDeviceToDevice, ctx_.stream()));
  rmsnorm_forward(ctx_, x_.data(), weight_.value, y, rstd_.resize(rows_), rows_, dim_, eps_);
}

void GpuRMSNorm::backward(const float* dy, float* dx) {
  rmsnorm_backward(ctx_, x_.data(), weight_.value, rstd_.data(), dy, dx, weight_.grad, rows_, dim_, partials_);
}

GpuLayerNorm::GpuLayerNorm(const Context& ctx, const ParamScope& scope, int dim, double eps)
    : ctx_(ctx),
      weight_(sized(scope, "weight", dim, "GpuLayerNorm")),
      bias_(sized(scope, "bias", dim, "GpuLayerNorm")),
      dim_(dim),
      eps_(static_cast<float>(eps)) {}

void GpuLayerNorm::forward(const float* x, float* y, int B, int T) {
  rows_ = static_cast<long long>(B) * T;
  float* xhat = xhat_.resize(static_cast<size_t>(rows_) * dim_);
  layernorm_forward(ctx_, x, weight_.value, bias_.value, y, xhat, rstd_.resize(rows_), rows_, dim_, eps_);
}

void GpuLayerNorm::backward(const float* dy, float* dx) {
  layernorm_backward(ctx_, xhat_.data(), weight_.value, rstd_.data(), dy, dx, weight_.grad, bias_.grad, rows_, dim_,
                     partials_);
}

}  // namespace db::cuda
