// gpu_head_norm.cpp: GpuHeadNorm (see gpu_head_norm.h).
//
// The forward keeps o (and the gate) in its own buffers, as the CPU does: the mixer reuses its
// buffers before the backward. sigmoid(gate) is not kept, unlike the CPU: the backward kernel
// recomputes it, which costs less than storing and reloading it.
#include "models/layers/cuda/gpu_head_norm.h"

#include <stdexcept>
#include <string>
#include <type_traits>

#include "models/layers/cuda/norms.h"

namespace db::cuda {

GpuHeadNorm::GpuHeadNorm(const Context& ctx, const ParamScope& scope, int heads, int head_dim, double eps)
    : ctx_(ctx), weight_(scope("weight")), H_(heads), V_(head_dim), eps_(static_cast<float>(eps)) {
  if (weight_.size != static_cast<size_t>(head_dim))
    throw std::invalid_argument("GpuHeadNorm: the weight has " + std::to_string(weight_.size) +
                                " numbers, expected head_dim " + std::to_string(head_dim));
}

void GpuHeadNorm::forward(const float* o, const float* gate, float* y, long long rows) { forward_as(o, gate, y, rows); }
void GpuHeadNorm::forward(const float* o, const bf16* gate, bf16* y, long long rows) { forward_as(o, gate, y, rows); }

template <class A>
void GpuHeadNorm::forward_as(const float* o, const A* gate, A* y, long long rows) {
  rows_ = rows;
  gated_ = gate != nullptr;
  bf16_ = std::is_same_v<A, bf16>;
  const size_t n = static_cast<size_t>(rows) * H_ * V_;
  A* kept_o = o_.resize<A>(n);
  store_activation(ctx_, o, kept_o, n);
  A* kept_gate = gated_ ? gate_.resize<A>(n) : nullptr;
  if (gated_) copy_activation(ctx_, gate, kept_gate, n);
  head_norm_forward(ctx_, static_cast<const A*>(kept_o), static_cast<const A*>(kept_gate), weight_.value, y,
                    rstd_.resize(rows * H_), rows * H_, V_, eps_);
}

void GpuHeadNorm::backward(const float* dy, float* d_o, float* dgate) {
  if (bf16_)
    backward_as<bf16>(dy, d_o, dgate);
  else
    backward_as<float>(dy, d_o, dgate);
}

template <class A>
void GpuHeadNorm::backward_as(const float* dy, float* d_o, float* dgate) {
  head_norm_backward(ctx_, o_.data<A>(), gated_ ? gate_.data<A>() : nullptr, weight_.value, rstd_.data(), dy, d_o,
                     dgate, weight_.grad, rows_ * H_, V_, partials_);
}

}  // namespace db::cuda
