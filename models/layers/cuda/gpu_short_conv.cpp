// gpu_short_conv.cpp: GpuShortConv (see gpu_short_conv.h).
//
// The forward copies x into its own buffer: the weight gradient reads it, and the caller may
// rewrite its x before the backward (the GpuModule contract).
#include "models/layers/cuda/gpu_short_conv.h"

#include <stdexcept>
#include <string>
#include <type_traits>

#include "models/layers/cuda/short_conv.h"

namespace db::cuda {

GpuShortConv::GpuShortConv(const Context& ctx, const ParamScope& scope, int channels, int kernel_size, bool silu)
    : ctx_(ctx), weight_(scope("weight")), C_(channels), W_(kernel_size), silu_(silu) {
  if (kernel_size > kMaxShortConvTaps)
    throw std::invalid_argument("GpuShortConv: conv_size " + std::to_string(kernel_size) + " is above the " +
                                std::to_string(kMaxShortConvTaps) + " the GPU's short convolution takes");
  if (channels <= 0 || kernel_size <= 0 || weight_.size != static_cast<size_t>(channels) * kernel_size)
    throw std::invalid_argument("GpuShortConv: the weight has " + std::to_string(weight_.size) + " numbers, expected " +
                                std::to_string(channels) + " x " + std::to_string(kernel_size));
}

void GpuShortConv::forward(const float* x, float* y, int B, int T) { forward_as(x, y, B, T); }
void GpuShortConv::forward(const bf16* x, float* y, int B, int T) { forward_as(x, y, B, T); }

template <class A>
void GpuShortConv::forward_as(const A* x, float* y, int B, int T) {
  B_ = B, T_ = T, bf16_ = std::is_same_v<A, bf16>;
  const size_t n = static_cast<size_t>(B) * T * C_;
  A* kept = x_.resize<A>(n);
  copy_activation(ctx_, x, kept, n);
  short_conv_forward(ctx_, static_cast<const A*>(kept), weight_.value, y, silu_ ? z_.resize<A>(n) : nullptr, B, T, C_,
                     W_, silu_);
}

void GpuShortConv::backward(const float* dy, float* dx) {
  if (bf16_)
    backward_as<bf16>(dy, dx);
  else
    backward_as<float>(dy, dx);
}

template <class A>
void GpuShortConv::backward_as(const float* dy, float* dx) {
  short_conv_backward(ctx_, x_.data<A>(), weight_.value, silu_ ? z_.data<A>() : nullptr, dy, dx, weight_.grad, B_, T_,
                      C_, W_, silu_, dz_, partials_);
}

}  // namespace db::cuda
