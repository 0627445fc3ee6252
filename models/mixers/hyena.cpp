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
  short_filter_ = std::make_unique<HyenaShortFilter>(arena, width, W_);
  ParamArena::Scope scope(arena, "filter_fn");
  bias_ = arena.add("bias", {D_}, ParamInit::normal(1.0), /*weight_decay=*/false);
  filter_ = std::make_unique<HyenaImplicitFilter>(arena, D_, l_max_, order_, emb_dim_, inner_, o.get_double("sin_freq"),
                                                  modulate_);
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
  short_filter_->forward(u_.data(), uc_.data(), B, T);
  h_ = filter_->forward(T);
  w_.resize(rows * D_), z_.resize(rows * D_), g_.resize(rows * D_);
  for (Index r = 0; r < rows; ++r)
    for (int c = 0; c < D_; ++c) w_[r * D_ + c] = uc_[r * width + 2 * D_ + c] * uc_[r * width + c];
  long_conv_forward(w_.data(), h_, z_.data(), B, T, D_);
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
  long_conv_backward(w_.data(), h_, dz_.data(), dw_.data(), dh_.data(), B, T, D_);
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
  filter_->backward(dh_.data());
  short_filter_->backward(u_.data(), duc_.data(), du_.data(), B, T);
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
