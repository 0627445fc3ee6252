// mh_hyena.cpp: MAD's multi-head Hyena, outer-product heads around a long convolution (see the header).
#include "models/mixers/mh_hyena.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "models/kernels/long_conv.h"

namespace db {

MhHyenaMixer::MhHyenaMixer(int d_model, const Options& o, ParamArena& arena)
    : D_(d_model),
      P_(static_cast<int>(o.get_int("num_heads"))),
      l_max_(static_cast<int>(o.get_int("l_max"))),
      W_(static_cast<int>(o.get_int("short_filter_order"))),
      groups_(static_cast<int>(o.get_int("proj_groups"))) {
  if (P_ < 1 || D_ % P_ != 0)
    throw ConfigError("num_heads", fmt::format("d_model {} must be divisible by num_heads {}", D_, P_));
  if (groups_ < 1 || (3 * D_) % groups_ != 0)
    throw ConfigError("proj_groups", fmt::format("3 * d_model = {} must be divisible by proj_groups {}", 3 * D_, groups_));
  if (l_max_ < 1) throw ConfigError("l_max", "'l_max' must be >= 1");
  if (W_ < 1) throw ConfigError("short_filter_order", "'short_filter_order' must be >= 1");
  const int order = static_cast<int>(o.get_int("filter_order"));
  if (order < 1) throw ConfigError("filter_order", "'filter_order' must be >= 1");
  G_ = D_ / P_;
  U0_ = 3 * D_ / groups_;
  const int width = 3 * D_;
  in_proj_ = std::make_unique<Linear>(arena, "in_proj", D_, U0_, true, 0.02);
  short_filter_ = std::make_unique<HyenaShortFilter>(arena, width, W_);
  {
    ParamArena::Scope scope(arena, "long_conv");
    bias_ = arena.add("bias", {G_}, ParamInit::normal(1.0), /*weight_decay=*/false);
    ParamArena::Scope f(arena, "filter");
    filter_ = std::make_unique<HyenaImplicitFilter>(arena, G_, l_max_, order, /*emb_dim=*/3, /*inner=*/2,
                                                    /*sin_freq=*/1.0, /*modulate=*/true);
  }
  out_proj_ = std::make_unique<Linear>(arena, "out_proj", D_, D_, true, 0.02);
}

void MhHyenaMixer::forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) {
  if (state_in || state_out) throw std::logic_error("mh_hyena cannot carry a fixed-size state");
  if (T > l_max_)
    throw std::invalid_argument(
        fmt::format("mh_hyena: sequence length {} exceeds l_max {} (the filter's length); raise l_max", T, l_max_));
  B_ = B, T_ = T;
  const int width = 3 * D_, PP = P_ * P_, KV = G_ * PP;
  const Index rows = Index(B) * T;
  x_.assign(x, x + rows * D_);
  u0_.resize(rows * U0_), u_.resize(rows * width), uc_.resize(rows * width);
  in_proj_->apply(x, u0_.data(), rows);
  for (Index r = 0; r < rows; ++r)
    for (int j = 0; j < width; ++j) u_[r * width + j] = u0_[r * U0_ + j % U0_];
  short_filter_->forward(u_.data(), uc_.data(), B, T);
  const real* h = filter_->forward(T);
  hx_.resize(size_t(T) * KV);
  for (int t = 0; t < T; ++t)
    for (int g = 0; g < G_; ++g) std::fill_n(hx_.data() + size_t(t) * KV + size_t(g) * PP, PP, h[size_t(t) * G_ + g]);
  kv_.resize(rows * KV), s_.resize(rows * KV), o_.resize(rows * D_);
  for (Index r = 0; r < rows; ++r) {
    const real *x2 = uc_.data() + r * width + D_, *v = uc_.data() + r * width + 2 * D_;
    real* kv = kv_.data() + r * KV;
    for (int g = 0; g < G_; ++g)
      for (int d1 = 0; d1 < P_; ++d1)
        for (int d2 = 0; d2 < P_; ++d2) kv[g * PP + d1 * P_ + d2] = v[g * P_ + d1] * x2[g * P_ + d2];
  }
  long_conv_forward(kv_.data(), hx_.data(), s_.data(), B, T, KV);
  const real* bias = bias_.data();
  for (Index r = 0; r < rows; ++r) {
    const real* x1 = uc_.data() + r * width;
    real* s = s_.data() + r * KV;
    const real* kv = kv_.data() + r * KV;
    real* o = o_.data() + r * D_;
    std::fill_n(o, D_, real(0));
    for (int g = 0; g < G_; ++g)
      for (int d1 = 0; d1 < P_; ++d1)
        for (int d2 = 0; d2 < P_; ++d2) {
          const int i = g * PP + d1 * P_ + d2;
          s[i] += bias[g] * kv[i];
          o[g * P_ + d2] += x1[g * P_ + d1] * s[i];
        }
  }
  out_proj_->apply(o_.data(), y, rows);
}

void MhHyenaMixer::backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) {
  (void)dstate_out, (void)dstate_in;
  const int B = B_, T = T_, width = 3 * D_, PP = P_ * P_, KV = G_ * PP;
  const Index rows = Index(B) * T;
  do_.resize(rows * D_), ds_.resize(rows * KV), dkv_.resize(rows * KV), dhx_.resize(size_t(T) * KV),
      dh_.resize(size_t(T) * G_), duc_.resize(rows * width), du_.resize(rows * width), du0_.resize(rows * U0_);
  out_proj_->apply_backward(o_.data(), dy, do_.data(), rows);
  for (Index r = 0; r < rows; ++r) {
    const real* x1 = uc_.data() + r * width;
    const real* s = s_.data() + r * KV;
    const real* dout = do_.data() + r * D_;
    real* ds = ds_.data() + r * KV;
    real* dx1 = duc_.data() + r * width;
    for (int g = 0; g < G_; ++g)
      for (int d1 = 0; d1 < P_; ++d1) {
        real acc = 0;
        for (int d2 = 0; d2 < P_; ++d2) {
          const int i = g * PP + d1 * P_ + d2;
          ds[i] = dout[g * P_ + d2] * x1[g * P_ + d1];
          acc += dout[g * P_ + d2] * s[i];
        }
        dx1[g * P_ + d1] = acc;
      }
  }
  long_conv_backward(kv_.data(), hx_.data(), ds_.data(), dkv_.data(), dhx_.data(), B, T, KV);
  const real* bias = bias_.data();
  real* dbias = bias_.grad();
  for (Index r = 0; r < rows; ++r) {  // serial: the bias gradient sums in a fixed order
    const real* kv = kv_.data() + r * KV;
    const real* ds = ds_.data() + r * KV;
    real* dkv = dkv_.data() + r * KV;
    for (int g = 0; g < G_; ++g)
      for (int i = g * PP; i < (g + 1) * PP; ++i) {
        dbias[g] += ds[i] * kv[i];
        dkv[i] += bias[g] * ds[i];
      }
  }
  for (int t = 0; t < T; ++t)
    for (int g = 0; g < G_; ++g) {
      real acc = 0;
      for (int i = 0; i < PP; ++i) acc += dhx_[size_t(t) * KV + size_t(g) * PP + i];
      dh_[size_t(t) * G_ + g] = acc;
    }
  filter_->backward(dh_.data());
  for (Index r = 0; r < rows; ++r) {
    const real *x2 = uc_.data() + r * width + D_, *v = uc_.data() + r * width + 2 * D_;
    const real* dkv = dkv_.data() + r * KV;
    real *dx2 = duc_.data() + r * width + D_, *dv = duc_.data() + r * width + 2 * D_;
    std::fill_n(dx2, D_, real(0));
    for (int g = 0; g < G_; ++g)
      for (int d1 = 0; d1 < P_; ++d1) {
        real acc = 0;
        for (int d2 = 0; d2 < P_; ++d2) {
          const real gkv = dkv[g * PP + d1 * P_ + d2];
          acc += gkv * x2[g * P_ + d2];
          dx2[g * P_ + d2] += gkv * v[g * P_ + d1];
        }
        dv[g * P_ + d1] = acc;
      }
  }
  short_filter_->backward(u_.data(), duc_.data(), du_.data(), B, T);
  // the tiled copies of in_proj's output share its gradient
  for (Index r = 0; r < rows; ++r)
    for (int j = 0; j < U0_; ++j) {
      real acc = 0;
      for (int k = 0; k < groups_; ++k) acc += du_[r * width + k * U0_ + j];
      du0_[r * U0_ + j] = acc;
    }
  in_proj_->apply_backward(x_.data(), du0_.data(), dx, rows);
}

const MixerEntry mh_hyena_mixer_entry{
    "mh_hyena",
    "MAD's multi-head Hyena: outer-product heads (q = x1, k = v, v = x2) around a long convolution with an "
    "implicit filter per head group",
    {
        {"l_max", int64_t{2048}, "maximum sequence length: the filter's positions (longer inputs are refused)"},
        {"num_heads", int64_t{16}, "head size P of the outer products (MAD's num_heads); D/P filter groups"},
        {"filter_order", int64_t{2}, "width of the implicit filter's MLP (MAD's mh-hyena config: 2)"},
        {"short_filter_order", int64_t{3}, "width of the short depthwise conv after in_proj"},
        {"proj_groups", int64_t{4}, "in_proj outputs 3D/proj_groups features, tiled proj_groups times"},
    },
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<MhHyenaMixer>(d_model, o, a);
    },
    {
        {{"l_max", int64_t{64}}, {"num_heads", int64_t{4}}},
        {{"l_max", int64_t{64}}, {"num_heads", int64_t{2}}, {"filter_order", int64_t{3}},
         {"short_filter_order", int64_t{2}}, {"proj_groups", int64_t{1}}},
    },
};

}  // namespace db
