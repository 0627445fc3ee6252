// rwkv4.cpp: the RWKV-4 time mixer (see the header).
#include "models/mixers/rwkv4.h"

#include <fmt/format.h>

#include <cmath>
#include <string>

#include "models/kernels/rwkv4_wkv.h"
#include "models/numerics/activation_buffers.h"
#include "models/numerics/parallel.h"

namespace db {

namespace {

// l from a parameter scope "...layers.<l>...", 0 when there is none (a mixer built on its own)
int layer_index_from_scope(const std::string& scope) {
  const std::string key = "layers.";
  const size_t at = scope.find(key);
  if (at == std::string::npos) return 0;
  size_t end = at + key.size();
  int l = 0;
  bool any = false;
  while (end < scope.size() && scope[end] >= '0' && scope[end] <= '9') l = 10 * l + (scope[end++] - '0'), any = true;
  return any ? l : 0;
}

ParamInit fill_with(std::function<double(size_t)> f) {
  return ParamInit::custom([f](real* p, size_t n, Rng&) {
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<real>(f(i));
  });
}

}  // namespace

Rwkv4Mixer::Rwkv4Mixer(int d_model, const Options& o, ParamArena& arena) : D_(d_model) {
  const int64_t n_layer = o.get_int("init_n_layer");
  if (n_layer < 2) throw ConfigError("init_n_layer", "'init_n_layer' must be >= 2");
  const int64_t given = o.get_int("init_layer");
  const int l = given >= 0 ? static_cast<int>(given) : layer_index_from_scope(arena.scoped(""));
  // beyond n_layer Zoology's init would raise 0 to a negative power
  if (l >= n_layer)
    throw ConfigError("init_n_layer", fmt::format("layer {} needs init_n_layer > {} (Zoology's init)", l, l));
  const double r0 = double(l) / double(n_layer - 1);  // 0 to 1 over the layers
  const double r1 = 1.0 - double(l) / double(n_layer);  // 1 to almost 0
  const double D = d_model;
  const double Dm1 = std::max(1.0, D - 1);
  time_decay_ = arena.add("time_decay", {D_}, fill_with([=](size_t c) {
                            return -5.0 + 8.0 * std::pow(double(c) / Dm1, 0.7 + 1.3 * r0);
                          }), /*weight_decay=*/false);
  time_first_ = arena.add("time_first", {D_}, fill_with([](size_t c) {
                            return std::log(0.3) + 0.5 * (double((c + 1) % 3) - 1.0);
                          }), /*weight_decay=*/false);
  time_mix_k_ = arena.add("time_mix_k", {1, 1, D_}, fill_with([=](size_t c) { return std::pow(c / D, r1); }), false);
  time_mix_v_ = arena.add("time_mix_v", {1, 1, D_},
                          fill_with([=](size_t c) { return std::pow(c / D, r1) + 0.3 * r0; }), false);
  time_mix_r_ = arena.add("time_mix_r", {1, 1, D_}, fill_with([=](size_t c) { return std::pow(c / D, 0.5 * r1); }),
                          false);
  key_ = std::make_unique<Linear>(arena, "key", D_, D_, false, 0.02);
  value_ = std::make_unique<Linear>(arena, "value", D_, D_, false, 0.02);
  receptance_ = std::make_unique<Linear>(arena, "receptance", D_, D_, false, 0.02);
  output_ = std::make_unique<Linear>(arena, "output", D_, D_, false, 0.02);
}

bool Rwkv4Mixer::parallel_rows() const { return worth_a_parallel_region(B_, Index(B_) * T_ * D_ * 60); }

void Rwkv4Mixer::forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) {
  B_ = B, T_ = T;
  const Index rows = Index(B) * T;
  const int D = D_;
  auto sized = [](RealVector& v, size_t n) { v.resize(n); return v.data(); };
  x_.assign(x, x + rows * D);

  // token shift, then the three mixes: x_mix = xx + mix * (x - xx)
  sized(xx_, rows * D), sized(xk_, rows * D), sized(xv_, rows * D), sized(xr_, rows * D);
  const real *mk = time_mix_k_.data(), *mv = time_mix_v_.data(), *mr = time_mix_r_.data();
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const Index row = Index(b) * T + t;
      real* xx = xx_.data() + row * D;
      if (t > 0)
        std::copy_n(x + (row - 1) * D, D, xx);
      else if (state_in)
        std::copy_n(state_in + size_t(b) * 3 * D + 2 * D, D, xx);
      else
        std::fill_n(xx, D, real(0));
      for (int c = 0; c < D; ++c) {
        const real diff = x[row * D + c] - xx[c];
        xk_[row * D + c] = xx[c] + mk[c] * diff;
        xv_[row * D + c] = xx[c] + mv[c] * diff;
        xr_[row * D + c] = xx[c] + mr[c] * diff;
      }
    }
  key_->apply(xk_.data(), sized(k_, rows * D), rows);
  value_->apply(xv_.data(), sized(v_, rows * D), rows);
  receptance_->apply(xr_.data(), sized(r_, rows * D), rows);
  sigmoid_buffer(r_.data(), sized(sr_, rows * D), rows * D);

  sized(wkv_, rows * D), sized(states_, size_t(B) * D * (T + 1) * 2);
  const bool parallel = parallel_rows();
#pragma omp parallel for schedule(static) if (parallel)
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < D; ++c) {
      const size_t off = size_t(b) * T * D + c;
      real s0[2];
      if (state_in)
        for (int j = 0; j < 2; ++j) s0[j] = state_in[size_t(b) * 3 * D + size_t(j) * D + c];
      rwkv4_wkv_forward(T, D, std::exp(time_decay_.data()[c]), time_first_.data()[c], k_.data() + off,
                        v_.data() + off, state_in ? s0 : nullptr, wkv_.data() + off,
                        states_.data() + (size_t(b) * D + c) * (T + 1) * 2);
    }

  sized(o_, rows * D);
  for (Index i = 0; i < rows * D; ++i) o_[i] = sr_[i] * wkv_[i];
  output_->apply(o_.data(), y, rows);

  if (state_out)
    for (int b = 0; b < B; ++b) {
      real* s = state_out + size_t(b) * 3 * D;
      for (int c = 0; c < D; ++c) {
        const real* fin = states_.data() + ((size_t(b) * D + c) * (T + 1) + T) * 2;
        for (int j = 0; j < 2; ++j) s[size_t(j) * D + c] = fin[j];
      }
      if (T > 0)
        std::copy_n(x + (Index(b) * T + T - 1) * D, D, s + 2 * D);
      else if (state_in)
        std::copy_n(state_in + size_t(b) * 3 * D + 2 * D, D, s + 2 * D);
      else
        std::fill_n(s + 2 * D, D, real(0));
    }
}

void Rwkv4Mixer::backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) {
  const int B = B_, T = T_, D = D_;
  const Index rows = Index(B) * T;
  auto sized = [](RealVector& v, size_t n) { v.resize(n); return v.data(); };

  output_->apply_backward(o_.data(), dy, sized(do_, rows * D), rows, false);
  sized(dwkv_, rows * D), sized(dr_, rows * D);
  for (Index i = 0; i < rows * D; ++i) {
    dwkv_[i] = do_[i] * sr_[i];
    dr_[i] = do_[i] * wkv_[i] * sr_[i] * (real(1) - sr_[i]);
  }

  sized(dk_, rows * D), sized(dv_, rows * D);
  dw_part_.assign(size_t(B) * D, real(0)), du_part_.assign(size_t(B) * D, real(0));
  const bool parallel = parallel_rows();
#pragma omp parallel for schedule(static) if (parallel)
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < D; ++c) {
      const size_t off = size_t(b) * T * D + c;
      real dsT[2], ds0[2];
      if (dstate_out)
        for (int j = 0; j < 2; ++j) dsT[j] = dstate_out[size_t(b) * 3 * D + size_t(j) * D + c];
      rwkv4_wkv_backward(T, D, std::exp(time_decay_.data()[c]), time_first_.data()[c], k_.data() + off,
                         v_.data() + off, states_.data() + (size_t(b) * D + c) * (T + 1) * 2, dwkv_.data() + off,
                         dstate_out ? dsT : nullptr, dk_.data() + off, dv_.data() + off,
                         dw_part_.data() + size_t(b) * D + c, du_part_.data() + size_t(b) * D + c, ds0);
      if (dstate_in)
        for (int j = 0; j < 2; ++j) dstate_in[size_t(b) * 3 * D + size_t(j) * D + c] = ds0[j];
    }
  // w = exp(time_decay): dw/dtime_decay = w; rows summed in order
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < D; ++c) {
      time_decay_.grad()[c] += dw_part_[size_t(b) * D + c] * std::exp(time_decay_.data()[c]);
      time_first_.grad()[c] += du_part_[size_t(b) * D + c];
    }

  key_->apply_backward(xk_.data(), dk_.data(), sized(dxk_, rows * D), rows, false);
  value_->apply_backward(xv_.data(), dv_.data(), sized(dxv_, rows * D), rows, false);
  receptance_->apply_backward(xr_.data(), dr_.data(), sized(dxr_, rows * D), rows, false);

  // x_mix = xx + mix (x - xx): into x, the shifted x and the mixes
  const real *mk = time_mix_k_.data(), *mv = time_mix_v_.data(), *mr = time_mix_r_.data();
  real *dmk = time_mix_k_.grad(), *dmv = time_mix_v_.grad(), *dmr = time_mix_r_.grad();
  sized(dxx_, rows * D);
  for (Index row = 0; row < rows; ++row)
    for (int c = 0; c < D; ++c) {
      const Index i = row * D + c;
      const real gk = dxk_[i], gv = dxv_[i], gr = dxr_[i];
      const real diff = x_[i] - xx_[i];
      dx[i] = gk * mk[c] + gv * mv[c] + gr * mr[c];
      dxx_[i] = gk * (real(1) - mk[c]) + gv * (real(1) - mv[c]) + gr * (real(1) - mr[c]);
      dmk[c] += gk * diff;
      dmv[c] += gv * diff;
      dmr[c] += gr * diff;
    }
  for (int b = 0; b < B; ++b) {
    for (int t = 1; t < T; ++t) {
      const Index row = Index(b) * T + t;
      for (int c = 0; c < D; ++c) dx[(row - 1) * D + c] += dxx_[row * D + c];
    }
    // the carried x is the last token's (or, for T = 0, the incoming one)
    const real* dlast = dstate_out ? dstate_out + size_t(b) * 3 * D + 2 * D : nullptr;
    if (T > 0 && dlast)
      for (int c = 0; c < D; ++c) dx[(Index(b) * T + T - 1) * D + c] += dlast[c];
    if (dstate_in) {
      real* dprev = dstate_in + size_t(b) * 3 * D + 2 * D;
      for (int c = 0; c < D; ++c) dprev[c] = (T > 0 ? dxx_[Index(b) * T * D + c] : real(0)) + (T == 0 && dlast ? dlast[c] : real(0));
    }
  }
}

const MixerEntry rwkv4_mixer_entry{
    "rwkv4",
    "RWKV-4 time mixer (Zoology's RWKVTimeMixer): token shift, WKV with decay and bonus, sigmoid receptance",
    {
        {"init_n_layer", int64_t{12}, "n_layer of Zoology's layer-dependent init of time_decay / time_mix (its default 12)"},
        {"init_layer", int64_t{-1}, "layer index of that init; -1 = this layer's index in the model"},
    },
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<Rwkv4Mixer>(d_model, o, a);
    },
    {
        {},
        {{"init_n_layer", int64_t{4}}, {"init_layer", int64_t{3}}},
    },
};

}  // namespace db
