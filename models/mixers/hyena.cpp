// hyena.cpp: Zoology's order-2 Hyena operator with its implicit long filter (see the header).
#include "models/mixers/hyena.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "models/kernels/long_conv.h"

namespace db {

HyenaMixer::HyenaMixer(int d_model, const Options& o, ParamArena& arena)
    : D_(d_model),
      l_max_(static_cast<int>(o.get_int("l_max"))),
      order_(static_cast<int>(o.get_int("filter_order"))),
      emb_dim_(static_cast<int>(o.get_int("emb_dim"))),
      inner_(static_cast<int>(o.get_int("num_inner_mlps"))),
      W_(static_cast<int>(o.get_int("short_filter_order"))),
      modulate_(o.get_bool("modulate")),
      filter_bias_(o.get_bool("filter_bias")) {
  if (l_max_ < 1) throw ConfigError("l_max", "'l_max' must be >= 1");
  if (order_ < 1) throw ConfigError("filter_order", "'filter_order' must be >= 1");
  if (emb_dim_ < 3 || emb_dim_ % 2 == 0)
    throw ConfigError("emb_dim", "'emb_dim' must be odd and >= 3 (time, cosine and sine bands)");
  if (inner_ < 0) throw ConfigError("num_inner_mlps", "'num_inner_mlps' must be >= 0");
  if (W_ < 1) throw ConfigError("short_filter_order", "'short_filter_order' must be >= 1");
  const int width = 3 * D_;
  in_proj_ = std::make_unique<Linear>(arena, "in_proj", D_, width, true, 0.02);
  out_proj_ = std::make_unique<Linear>(arena, "out_proj", D_, D_, true, 0.02);
  {
    // PyTorch's Conv1d default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = the width
    const double bound = 1.0 / std::sqrt(double(W_));
    auto uniform = ParamInit::custom([bound](real* p, size_t n, Rng& rng) {
      for (size_t i = 0; i < n; ++i) p[i] = static_cast<real>(rng.uniform(-bound, bound));
    });
    ParamArena::Scope scope(arena, "short_filter");
    short_weight_ = arena.add("weight", {width, 1, W_}, uniform);
    short_bias_ = arena.add("bias", {width}, uniform, /*weight_decay=*/false);
  }
  ParamArena::Scope scope(arena, "filter_fn");
  bias_ = arena.add("bias", {D_}, ParamInit::normal(1.0), /*weight_decay=*/false);
  {
    ParamArena::Scope f(arena, "implicit_filter");
    const double w = o.get_double("sin_freq");
    for (int j = 0; j <= inner_ + 1; ++j) {
      const int in = j == 0 ? emb_dim_ : order_, out = j == inner_ + 1 ? D_ : order_;
      mlp_.push_back(std::make_unique<Linear>(arena, std::to_string(2 * j), in, out, j <= inner_, 0.02));
      if (j == 0) {
        ParamArena::Scope s(arena, "1");
        freq_ = arena.add("freq", {1, order_}, ParamInit::constant(w), /*weight_decay=*/false);
      }
    }
  }
  // ExponentialModulation's fixed rates: linspace(ln(target)/slow, ln(target)/fast, D), target 1e-2
  deltas_.resize(D_);
  const double lo = std::log(1e-2) / 1.5, hi = std::log(1e-2) / 0.3;
  for (int c = 0; c < D_; ++c) deltas_[c] = static_cast<real>(std::abs(D_ > 1 ? lo + (hi - lo) * c / (D_ - 1) : lo));
}

void HyenaMixer::filter_forward(int T) {
  const double pi = 3.14159265358979323846;
  const int bands = (emb_dim_ - 1) / 2;
  emb_.resize(size_t(T) * emb_dim_);
  for (int t = 0; t < T; ++t) {
    real* e = emb_.data() + size_t(t) * emb_dim_;
    const double tn = l_max_ > 1 ? double(t) / (l_max_ - 1) : 0.0, w = 2 * pi * t / l_max_;
    e[0] = static_cast<real>(tn);
    for (int j = 0; j < bands; ++j) {
      const double f = bands > 1 ? 1e-4 + (bands - 1 - 1e-4) * j / (bands - 1) : 1e-4;
      e[1 + j] = static_cast<real>(std::cos(f * w));
      e[1 + bands + j] = static_cast<real>(-std::sin(f * w));
    }
  }
  pre_.resize(inner_ + 1), act_.resize(inner_ + 1);
  const real* F = freq_.data();
  const real* in = emb_.data();
  for (int j = 0; j <= inner_; ++j) {
    pre_[j].resize(size_t(T) * order_), act_[j].resize(size_t(T) * order_);
    mlp_[j]->apply(in, pre_[j].data(), T);
    for (size_t i = 0; i < pre_[j].size(); ++i) act_[j][i] = std::sin(F[i % order_] * pre_[j][i]);
    in = act_[j].data();
  }
  graw_.resize(size_t(T) * D_), modulation_.resize(size_t(T) * D_), h_.resize(size_t(T) * D_);
  mlp_[inner_ + 1]->apply(in, graw_.data(), T);
  for (int t = 0; t < T; ++t) {
    const double tn = l_max_ > 1 ? double(t) / (l_max_ - 1) : 0.0;
    for (int c = 0; c < D_; ++c) {
      const size_t i = size_t(t) * D_ + c;
      modulation_[i] = modulate_ ? static_cast<real>(std::exp(-tn * deltas_[c])) : real(1);
      h_[i] = graw_[i] * modulation_[i];
    }
  }
}

void HyenaMixer::filter_backward(int T) {
  dgraw_.resize(size_t(T) * D_);
  for (size_t i = 0; i < dgraw_.size(); ++i) dgraw_[i] = dh_[i] * modulation_[i];
  dact_.resize(size_t(T) * order_), dpre_.resize(size_t(T) * order_);
  mlp_[inner_ + 1]->apply_backward(act_[inner_].data(), dgraw_.data(), dact_.data(), T);
  const real* F = freq_.data();
  real* dF = freq_.grad();
  for (int j = inner_; j >= 0; --j) {
    for (size_t i = 0; i < dpre_.size(); ++i) {
      const int k = static_cast<int>(i % order_);
      const real cs = std::cos(F[k] * pre_[j][i]) * dact_[i];
      dpre_[i] = cs * F[k];
      dF[k] += cs * pre_[j][i];  // serial: fixed order
    }
    mlp_[j]->apply_backward(j > 0 ? act_[j - 1].data() : emb_.data(), dpre_.data(), j > 0 ? dact_.data() : nullptr, T);
  }
}

void HyenaMixer::forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) {
  if (state_in || state_out) throw std::logic_error("hyena cannot carry a fixed-size state");
  if (T > l_max_)
    throw std::invalid_argument(
        fmt::format("hyena: sequence length {} exceeds l_max {} (the filter's length); raise l_max", T, l_max_));
  B_ = B, T_ = T;
  const int width = 3 * D_;
  const Index rows = Index(B) * T;
  x_.assign(x, x + rows * D_);
  u_.resize(rows * width), uc_.resize(rows * width);
  in_proj_->apply(x, u_.data(), rows);
  // causal depthwise conv: uc[t, c] = b[c] + sum_i w[c, i] u[t - W + 1 + i, c]
  const real* sw = short_weight_.data();
  const real* sb = short_bias_.data();
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      real* out = uc_.data() + (size_t(b) * T + t) * width;
      for (int c = 0; c < width; ++c) out[c] = sb[c];
      for (int i = 0; i < W_; ++i) {
        const int s = t - W_ + 1 + i;
        if (s < 0) continue;
        const real* src = u_.data() + (size_t(b) * T + s) * width;
        for (int c = 0; c < width; ++c) out[c] += sw[size_t(c) * W_ + i] * src[c];
      }
    }
  filter_forward(T);
  w_.resize(rows * D_), z_.resize(rows * D_), g_.resize(rows * D_);
  for (Index r = 0; r < rows; ++r)
    for (int c = 0; c < D_; ++c) w_[r * D_ + c] = uc_[r * width + 2 * D_ + c] * uc_[r * width + c];
  long_conv_forward(w_.data(), h_.data(), z_.data(), B, T, D_);
  const real* fb = bias_.data();
  for (Index r = 0; r < rows; ++r)
    for (int c = 0; c < D_; ++c) {
      const Index i = r * D_ + c;
      if (filter_bias_) z_[i] += w_[i] * fb[c];
      g_[i] = z_[i] * uc_[r * width + D_ + c];
    }
  out_proj_->apply(g_.data(), y, rows);
}

void HyenaMixer::backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) {
  (void)dstate_out, (void)dstate_in;
  const int B = B_, T = T_, width = 3 * D_;
  const Index rows = Index(B) * T;
  dg_.resize(rows * D_), dz_.resize(rows * D_), dw_.resize(rows * D_), duc_.resize(rows * width),
      du_.resize(rows * width), dh_.resize(size_t(T) * D_);
  out_proj_->apply_backward(g_.data(), dy, dg_.data(), rows);
  for (Index r = 0; r < rows; ++r)
    for (int c = 0; c < D_; ++c) {
      const Index i = r * D_ + c;
      dz_[i] = dg_[i] * uc_[r * width + D_ + c];
      duc_[r * width + D_ + c] = dg_[i] * z_[i];  // dx2
    }
  long_conv_backward(w_.data(), h_.data(), dz_.data(), dw_.data(), dh_.data(), B, T, D_);
  if (filter_bias_) {
    const real* fb = bias_.data();
    real* dfb = bias_.grad();
    for (Index r = 0; r < rows; ++r)  // serial: fixed order
      for (int c = 0; c < D_; ++c) {
        const Index i = r * D_ + c;
        dw_[i] += dz_[i] * fb[c];
        dfb[c] += dz_[i] * w_[i];
      }
  }
  for (Index r = 0; r < rows; ++r)
    for (int c = 0; c < D_; ++c) {
      const Index i = r * D_ + c;
      duc_[r * width + c] = dw_[i] * uc_[r * width + 2 * D_ + c];           // dx1
      duc_[r * width + 2 * D_ + c] = dw_[i] * uc_[r * width + c];           // dv
    }
  filter_backward(T);
  // short conv backward, serial over (b, t) so the weight gradient sums in a fixed order
  const real* sw = short_weight_.data();
  real* dsw = short_weight_.grad();
  real* dsb = short_bias_.grad();
  std::fill(du_.begin(), du_.end(), real(0));
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const real* g = duc_.data() + (size_t(b) * T + t) * width;
      for (int c = 0; c < width; ++c) dsb[c] += g[c];
      for (int i = 0; i < W_; ++i) {
        const int s = t - W_ + 1 + i;
        if (s < 0) continue;
        const size_t off = (size_t(b) * T + s) * width;
        for (int c = 0; c < width; ++c) {
          du_[off + c] += sw[size_t(c) * W_ + i] * g[c];
          dsw[size_t(c) * W_ + i] += g[c] * u_[off + c];
        }
      }
    }
  in_proj_->apply_backward(x_.data(), du_.data(), dx, rows);
}

const MixerEntry hyena_mixer_entry{
    "hyena",
    "Zoology's order-2 Hyena: short conv, gates x1 and x2 around a long convolution with an implicit "
    "(Sin MLP, exponentially decaying) filter",
    {
        {"l_max", int64_t{2048}, "maximum sequence length: the filter's positions (longer inputs are refused)"},
        {"filter_order", int64_t{64}, "width of the MLP that generates the long filter"},
        {"emb_dim", int64_t{3}, "positional-embedding size fed to the filter MLP (odd, >= 3)"},
        {"num_inner_mlps", int64_t{2}, "inner (order x order) layers of the filter MLP"},
        {"short_filter_order", int64_t{3}, "width of the short depthwise conv after in_proj"},
        {"sin_freq", 1.0, "initial frequency of the filter MLP's Sin activations (learned)"},
        {"modulate", true, "multiply the filter by exp(-t |delta|) (ExponentialModulation)"},
        {"filter_bias", true, "add the per-channel skip term bias * input to the long convolution"},
    },
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<HyenaMixer>(d_model, o, a);
    },
    {
        {{"l_max", int64_t{64}}, {"filter_order", int64_t{8}}},
        {{"l_max", int64_t{64}}, {"filter_order", int64_t{6}}, {"emb_dim", int64_t{5}},
         {"num_inner_mlps", int64_t{1}}, {"short_filter_order", int64_t{2}}, {"modulate", false},
         {"filter_bias", false}, {"sin_freq", 3.0}},
    },
};

}  // namespace db
