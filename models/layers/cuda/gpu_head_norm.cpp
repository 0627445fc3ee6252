// gpu_head_norm.cpp: GpuHeadNorm (see gpu_head_norm.h).
//
// The forward copies o (and the gate) into its own buffers, as the CPU does: the mixer reuses its
// buffers before the backward. sigmoid(gate) is not kept, unlike the CPU: the backward kernel
// recomputes it, which costs less than storing and reloading it.
#include "models/layers/cuda/gpu_head_norm.h"

#include <stdexcept>
#include <string>

#include "models/layers/cuda/norms.h"

namespace db::cuda {

namespace {
void copy_on_stream(const Context& ctx, const float* from, float* to, size_t n) {
  if (n) DB_CUDA_CHECK(cudaMemcpyAsync(to, from, n * sizeof(float), cudaMemcpyDeviceToDevice, ctx.stream()));
}
}  // namespace

GpuHeadNorm::GpuHeadNorm(const Context& ctx, const ParamScope& scope, int heads, int head_dim, double eps)
    : ctx_(ctx), weight_(scope("weight")), H_(heads), V_(head_dim), eps_(static_cast<float>(eps)) {
  if (weight_.size != static_cast<size_t>(head_dim))
    throw std::invalid_argument("GpuHeadNorm: the weight has " + std::to_string(weight_.size) +
                                " numbers, expected head_dim " + std::to_string(head_dim));
}

void GpuHeadNorm::forward(const float* o, const float* gate, float* y, long long rows) {
  rows_ = rows;
  gated_ = gate != nullptr;
  const size_t n = static_cast<size_t>(rows) * H_ * V_;
  copy_on_stream(ctx_, o, o_.resize(n), n);
  if (gated_) copy_on_stream(ctx_, gate, gate_.resize(n), n);
  head_norm_forward(ctx_, o_.data(), gated_ ? gate_.data() : nullptr, weight_.value, y, rstd_.resize(rows * H_),
                    rows * H_, V_, eps_);
}

void GpuHeadNorm::backward(const float* dy, float* d_o, float* dgate) {
  head_norm_backward(ctx_, o_.data(), gated_ ? gate_.data() : nullptr, weight_.value, rstd_.data(), dy, d_o, dgate,
                     weight_.grad, rows_ * H_, V_, partials_);
}

}  // namespace db::cuda
