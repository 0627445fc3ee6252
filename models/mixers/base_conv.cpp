// base_conv.cpp: Zoology's BaseConv, a projection gated by a (long) causal convolution (see the header).
#include "models/mixers/base_conv.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "models/kernels/long_conv.h"
#include "models/numerics/activations.h"

namespace db {

BaseConvMixer::BaseConvMixer(int d_model, const Options& o, ParamArena& arena)
    : D_(d_model),
      l_max_(static_cast<int>(o.get_int("l_max"))),
      kernel_size_(static_cast<int>(o.get_int("kernel_size"))),
      implicit_(o.get_bool("implicit_long_conv")),
      use_act_(o.get_bool("use_act")) {
  if (l_max_ < 1) throw ConfigError("l_max", "'l_max' must be >= 1");
  if (kernel_size_ == 0 || kernel_size_ < -1)
    throw ConfigError("kernel_size", "'kernel_size' must be -1 (long convolution) or a width >= 1");
  projection_ = std::make_unique<Linear>(arena, "projection", D_, D_, true, 0.02);
  ParamArena::Scope scope(arena, "conv");
  if (kernel_size_ > 0) {
    // PyTorch's Conv1d default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = kernel width
    const ParamInit uniform = ParamInit::uniform(1.0 / std::sqrt(double(kernel_size_)));
    ParamArena::Scope inner(arena, "conv");
    short_weight_ = arena.add("weight", {D_, 1, kernel_size_}, uniform);
    short_bias_ = arena.add("bias", {D_}, uniform, /*weight_decay=*/false);
  } else if (implicit_) {
    mlp0_ = std::make_unique<Linear>(arena, "mlp.0", kEmbDim, kHidden, true, 0.02);
    mlp2_ = std::make_unique<Linear>(arena, "mlp.2", kHidden, D_, true, 0.02);
  } else {
    filter_ = arena.add("filter", {D_, l_max_}, ParamInit::normal(1.0));
  }
}

int64_t BaseConvMixer::reported_state_size(int seq_len) const {
  // Zoology: LongConvolution / ImplicitLongConvolution count d_model * sequence_length,
  // ShortConvolution d_model * kernel_size
  return kernel_size_ > 0 ? int64_t{D_} * kernel_size_ : int64_t{D_} * seq_len;
}

void BaseConvMixer::build_filter(int T) {
  h_.assign(size_t(T) * D_, real(0));
  if (kernel_size_ > 0) {
    // Conv1d with left padding k-1: y_t = sum_i w[c, i] x_{t-k+1+i}, i.e. tap s = k-1-i
    const real* w = short_weight_.data();
    for (int s = 0; s < std::min(T, kernel_size_); ++s)
      for (int c = 0; c < D_; ++c) h_[size_t(s) * D_ + c] = w[size_t(c) * kernel_size_ + (kernel_size_ - 1 - s)];
  } else if (implicit_) {
    z_.resize(size_t(T) * kEmbDim);
    const double pi = 3.14159265358979323846;
    for (int t = 0; t < T; ++t) {
      const double w = 2 * pi * t / l_max_;
      z_[size_t(t) * kEmbDim + 0] = static_cast<real>(l_max_ > 1 ? double(t) / (l_max_ - 1) : 0.0);
      z_[size_t(t) * kEmbDim + 1] = static_cast<real>(std::cos(1e-4 * w));
      z_[size_t(t) * kEmbDim + 2] = static_cast<real>(-std::sin(1e-4 * w));
    }
    a_.resize(size_t(T) * kHidden), r_.resize(size_t(T) * kHidden);
    mlp0_->apply(z_.data(), a_.data(), T);
    for (size_t i = 0; i < a_.size(); ++i) r_[i] = a_[i] > 0 ? a_[i] : real(0);
    mlp2_->apply(r_.data(), h_.data(), T);
  } else {
    const real* f = filter_.data();
    for (int s = 0; s < T; ++s)
      for (int c = 0; c < D_; ++c) h_[size_t(s) * D_ + c] = f[size_t(c) * l_max_ + s];
  }
}

void BaseConvMixer::filter_backward(int T) {
  if (kernel_size_ > 0) {
    real* dw = short_weight_.grad();
    for (int s = 0; s < std::min(T, kernel_size_); ++s)
      for (int c = 0; c < D_; ++c) dw[size_t(c) * kernel_size_ + (kernel_size_ - 1 - s)] += dh_[size_t(s) * D_ + c];
  } else if (implicit_) {
    dr_.resize(size_t(T) * kHidden);
    mlp2_->apply_backward(r_.data(), dh_.data(), dr_.data(), T);
    for (size_t i = 0; i < dr_.size(); ++i)
      if (!(a_[i] > 0)) dr_[i] = 0;
    mlp0_->apply_backward(z_.data(), dr_.data(), nullptr, T);
  } else {
    real* df = filter_.grad();
    for (int s = 0; s < T; ++s)
      for (int c = 0; c < D_; ++c) df[size_t(c) * l_max_ + s] += dh_[size_t(s) * D_ + c];
  }
}

void BaseConvMixer::forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) {
  if (state_in || state_out) throw std::logic_error("base_conv cannot carry a fixed-size state");
  if (T > l_max_)
    throw std::invalid_argument(
        fmt::format("base_conv: sequence length {} exceeds l_max {} (the filter's length); raise l_max", T, l_max_));
  B_ = B, T_ = T;
  const Index rows = Index(B) * T, n = rows * D_;
  x_.assign(x, x + n);
  build_filter(T);
  c_.resize(n), p_.resize(n);
  long_conv_forward(x, h_.data(), c_.data(), B, T, D_);
  if (kernel_size_ > 0) {
    const real* bias = short_bias_.data();
    for (Index i = 0; i < n; ++i) c_[i] += bias[i % D_];
  } else {
    for (Index i = 0; i < n; ++i) c_[i] += x[i];  // fft_conv's skip term
  }
  projection_->apply(x, p_.data(), rows);
  for (Index i = 0; i < n; ++i)
    y[i] = (use_act_ ? silu(c_[i]) * silu(p_[i]) : c_[i] * p_[i]) + x[i];
}

void BaseConvMixer::backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) {
  (void)dstate_out, (void)dstate_in;
  const int B = B_, T = T_;
  const Index rows = Index(B) * T, n = rows * D_;
  dc_.resize(n), dp_.resize(n), dconv_x_.resize(n), dh_.resize(size_t(T) * D_);
  for (Index i = 0; i < n; ++i) {
    if (use_act_) {
      dc_[i] = dy[i] * silu(p_[i]) * silu_grad(c_[i]);
      dp_[i] = dy[i] * silu(c_[i]) * silu_grad(p_[i]);
    } else {
      dc_[i] = dy[i] * p_[i];
      dp_[i] = dy[i] * c_[i];
    }
  }
  long_conv_backward(x_.data(), h_.data(), dc_.data(), dconv_x_.data(), dh_.data(), B, T, D_);
  if (kernel_size_ > 0) {
    real* dbias = short_bias_.grad();
    for (Index i = 0; i < n; ++i) dbias[i % D_] += dc_[i];  // serial: fixed order
  }
  filter_backward(T);
  projection_->apply_backward(x_.data(), dp_.data(), dx, rows);
  for (Index i = 0; i < n; ++i) dx[i] += dy[i] + dconv_x_[i] + (kernel_size_ > 0 ? real(0) : dc_[i]);
}

const MixerEntry base_conv_mixer_entry{
    "base_conv",
    "Zoology's BaseConv: y = conv(x) * (W x + b) + x, conv a long causal convolution (implicit or explicit "
    "filter) or a short depthwise one",
    {
        {"l_max", int64_t{2048}, "maximum sequence length: the long filter's length (longer inputs are refused)"},
        {"kernel_size", int64_t{-1}, "-1 = long convolution over the whole sequence; k >= 1 = short depthwise conv "
                                     "of width k (Zoology's default 3)"},
        {"implicit_long_conv", true, "long filter from an MLP of a positional embedding (else an explicit "
                                     "learned [D, l_max] filter)"},
        {"use_act", false, "SiLU on both the conv output and the projection before the product"},
    },
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<BaseConvMixer>(d_model, o, a);
    },
    {
        {{"l_max", int64_t{64}}},
        {{"l_max", int64_t{64}}, {"implicit_long_conv", false}, {"use_act", true}},
        {{"l_max", int64_t{64}}, {"kernel_size", int64_t{3}}},
    },
};

}  // namespace db
