// base_conv.h: Zoology's BaseConv (zoology/mixers/base_conv.py), a gated convolution:
//
//   c = conv(x) [+ x for a long conv],   p = x Wp^T + bp,   y = c * p + x          x, y [B, T, D]
// (with use_act: y = silu(c) * silu(p) + x). No output projection (Zoology has none).
// conv is, by kernel_size:
//   -1 (default here): a long causal convolution over the whole sequence (models/kernels/long_conv.h),
//      with Zoology's fft_conv skip term (+ x). The filter h [T, D] is either
//      implicit (implicit_long_conv, Zoology's default): h = W2 relu(W1 z_t + b1) + b2, z_t the
//        3-dim positional embedding (t / (l_max-1), cos(1e-4 w_t), -sin(1e-4 w_t)), w_t = 2 pi t / l_max,
//        an MLP of width 16 (Zoology's ImplicitLongConvolution, d_emb 3, d_hidden 16),
//      or explicit: a learned filter [D, l_max] (Zoology's LongConvolution, ~ N(0, 1)), of which the
//        first T taps are used.
//   k > 0: Zoology's ShortConvolution, a causal depthwise Conv1d of width k with bias (no skip term),
//      run here as the same long-convolution kernel with a filter zero beyond tap k.
// The filter (and the positional embedding) is defined on l_max positions, so T > l_max is refused.
// Deviation: Zoology's fft_conv takes an explicit filter of length l_max into an FFT of size 2T, which
// for l_max > 2T wraps taps beyond 2T onto future inputs; here only the first T taps act (the causal
// function, identical to Zoology when l_max = T).
// State: the exact carried state of a long convolution is the whole input history, so this mixer
// carries none (state_size() = 0, like softmax attention without a window; split runs are refused),
// also for the short-conv variant. reported_state_size(T) is Zoology's BaseConv.state_size, which is
// its conv's: d_model * T for a long conv (the input history), d_model * kernel_size for a short one.
#pragma once

#include <memory>

#include "models/core/registry.h"
#include "models/layers/linear.h"

namespace db {

class BaseConvMixer : public Mixer {
 public:
  BaseConvMixer(int d_model, const Options& options, ParamArena& arena);

  int in_dim() const override { return D_; }
  int out_dim() const override { return D_; }
  int64_t state_size() const override { return 0; }
  int64_t reported_state_size(int seq_len) const override;
  void forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) override;
  void backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) override;

 private:
  void build_filter(int T);             // -> h_ (and the MLP activations for the implicit filter)
  void filter_backward(int T);          // dh_ -> parameter gradients

  static constexpr int kEmbDim = 3, kHidden = 16;  // Zoology's ImplicitLongConvolution defaults
  int D_, l_max_, kernel_size_;
  bool implicit_, use_act_;
  std::unique_ptr<Linear> projection_;
  std::unique_ptr<Linear> mlp0_, mlp2_;  // implicit filter: [kEmbDim -> kHidden], [kHidden -> D]
  Param filter_;                         // explicit filter [D, l_max]
  Param short_weight_, short_bias_;      // short conv [D, 1, k], [D]

  int B_ = 0, T_ = 0;
  RealVector x_;           // [B*T, D]
  RealVector z_;           // [T, kEmbDim] positional embedding
  RealVector a_, r_;       // [T, kHidden] MLP pre-activation, relu(a)
  RealVector h_;           // [T, D] the filter, tap-major
  RealVector c_, p_;       // [B*T, D] conv output (skip and bias included), projection
  RealVector dc_, dp_, dconv_x_;  // [B*T, D]
  RealVector dh_;          // [T, D]
  RealVector dr_;          // [T, kHidden]
};

extern const MixerEntry base_conv_mixer_entry;

}  // namespace db
