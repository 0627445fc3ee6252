// diagonal_decay_layer.cpp: the fla layer around the per-key-channel decayed recurrence (see the header).
#include "models/mixers/diagonal_decay_layer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace db {

namespace {

// below this many state updates (B*H*T*K*V) the sequences run on one thread: forking costs more
constexpr int64_t kParallelWork = int64_t(1) << 16;

// d_model * expand as a whole number of channels split evenly over the heads
int per_head(int d_model, double expand, int heads, const char* key) {
  const double total = d_model * expand;
  const long n = std::lround(total);
  if (n < heads || std::abs(total - n) > 1e-9 || n % heads != 0)
    throw ConfigError(key, fmt::format("d_model * {} = {} must be a whole multiple of num_heads {}", key, total, heads));
  return static_cast<int>(n / heads);
}

}  // namespace

OptionSpecs DiagonalDecayLayer::option_specs(const Settings& d) {
  return {
      {"num_heads", int64_t{d.num_heads}, "heads H"},
      {"expand_k", d.expand_k, "key dim H*K = d_model * expand_k"},
      {"expand_v", d.expand_v, "value dim H*V = d_model * expand_v"},
      {"use_output_gate", d.output_gate, "multiply the normed output by SiLU(g_proj x)"},
      {"use_short_conv", d.short_conv, "causal depthwise convolution + SiLU on q, k, v"},
      {"conv_size", int64_t{d.conv_size}, "short convolution kernel size"},
      {"mode", std::string(d.chunked ? "chunk" : "recurrent"),
       "chunk: chunkwise kernel; recurrent: token-by-token reference", {"chunk", "recurrent"}},
      {"chunk_size", int64_t{d.chunk_size}, "chunk length C of the chunkwise kernel (16, 32 or 64)"},
      {"norm_eps", d.norm_eps, "epsilon of the per-head output RMSNorm"},
  };
}

DiagonalDecayLayer::Settings DiagonalDecayLayer::settings_from(const Options& o, Settings s) {
  s.num_heads = static_cast<int>(o.get_int("num_heads"));
  s.expand_k = o.get_double("expand_k");
  s.expand_v = o.get_double("expand_v");
  s.output_gate = o.get_bool("use_output_gate");
  s.short_conv = o.get_bool("use_short_conv");
  s.conv_size = static_cast<int>(o.get_int("conv_size"));
  s.chunked = o.get_string("mode") == "chunk";
  s.chunk_size = static_cast<int>(o.get_int("chunk_size"));
  s.norm_eps = o.get_double("norm_eps");
  if (s.num_heads < 1) throw ConfigError("num_heads", "'num_heads' must be >= 1");
  if (!(s.expand_k > 0)) throw ConfigError("expand_k", "'expand_k' must be > 0");
  if (!(s.expand_v > 0)) throw ConfigError("expand_v", "'expand_v' must be > 0");
  if (s.conv_size < 1) throw ConfigError("conv_size", "'conv_size' must be >= 1");
  if (s.chunk_size != 16 && s.chunk_size != 32 && s.chunk_size != 64)
    throw ConfigError("chunk_size", fmt::format("'chunk_size' must be 16, 32 or 64, got {}", s.chunk_size));
  return s;
}

DiagonalDecayLayer::DiagonalDecayLayer(int d_model, const Settings& s, ParamArena& arena)
    : cfg_(s), D_(d_model), H_(s.num_heads) {
  K_ = per_head(d_model, s.expand_k, H_, "expand_k");
  V_ = per_head(d_model, s.expand_v, H_, "expand_v");
  const int HK = H_ * K_, HV = H_ * V_;
  const double std = s.init_std;
  q_proj_ = std::make_unique<Linear>(arena, "q_proj", D_, HK, false, std);
  k_proj_ = std::make_unique<Linear>(arena, "k_proj", D_, HK, false, std);
  v_proj_ = std::make_unique<Linear>(arena, "v_proj", D_, HV, false, std);
  if (s.output_gate) g_proj_ = std::make_unique<Linear>(arena, "g_proj", D_, HV, false, std);
  if (s.short_conv) {
    q_conv_ = std::make_unique<ShortConv>(arena, "q_conv1d", HK, s.conv_size, true, std);
    k_conv_ = std::make_unique<ShortConv>(arena, "k_conv1d", HK, s.conv_size, true, std);
    v_conv_ = std::make_unique<ShortConv>(arena, "v_conv1d", HV, s.conv_size, true, std);
  }
  if (s.rope) {
    if (K_ % 2) throw ConfigError("expand_k", fmt::format("RoPE needs an even key dim per head, got {}", K_));
    rope_ = std::make_unique<Rope>(K_, s.rope_base);
  }
  // fla's names: the fused norm-and-gate module when gated, the plain RMSNorm otherwise
  o_norm_ = std::make_unique<HeadNorm>(arena, s.output_gate ? "g_norm_swish_gate" : "g_norm", H_, V_, s.norm_eps);
  o_proj_ = std::make_unique<Linear>(arena, "o_proj", HV, D_, false, std);
}

std::array<int64_t, 5> DiagonalDecayLayer::state_parts() const {
  std::array<int64_t, 5> n = {int64_t{H_} * K_ * V_, 0, 0, 0, rope_ ? 1 : 0};
  if (cfg_.short_conv) n[1] = q_conv_->state_size(), n[2] = k_conv_->state_size(), n[3] = v_conv_->state_size();
  return n;
}

int64_t DiagonalDecayLayer::state_size() const {
  const auto n = state_parts();
  return n[0] + n[1] + n[2] + n[3] + n[4];
}

int64_t DiagonalDecayLayer::reported_state_size(int) const {
  int64_t n = int64_t{H_} * K_ * V_;
  if (cfg_.short_conv) n += int64_t{cfg_.conv_size} * (2 * H_ * K_ + H_ * V_);
  return n;
}

void DiagonalDecayLayer::unpack_state(const real* packed, int B) {
  const auto n = state_parts();
  const int64_t S = state_size();
  h0_.resize(size_t(B) * n[0]);
  for (int b = 0; b < B; ++b) std::copy_n(packed + b * S, n[0], h0_.data() + b * n[0]);
  int64_t off = n[0];
  for (int i = 0; i < 3; ++i) {
    if (n[1 + i] == 0) continue;
    conv_state_in_[i].resize(size_t(B) * n[1 + i]);
    for (int b = 0; b < B; ++b) std::copy_n(packed + b * S + off, n[1 + i], conv_state_in_[i].data() + b * n[1 + i]);
    off += n[1 + i];
  }
  if (n[4])
    for (int b = 0; b < B; ++b) pos_[b] = static_cast<int>(std::max(0L, std::lround(double(packed[b * S + off]))));
}

void DiagonalDecayLayer::pack_state(const RealVector& mats, const RealVector* tails, bool positions, int B,
                                    real* packed) const {
  const auto n = state_parts();
  const int64_t S = state_size();
  for (int b = 0; b < B; ++b) std::copy_n(mats.data() + b * n[0], n[0], packed + b * S);
  int64_t off = n[0];
  for (int i = 0; i < 3; ++i) {
    if (n[1 + i] == 0) continue;
    for (int b = 0; b < B; ++b) std::copy_n(tails[i].data() + b * n[1 + i], n[1 + i], packed + b * S + off);
    off += n[1 + i];
  }
  // forward: where the next call starts; backward: positions carry no gradient
  if (n[4])
    for (int b = 0; b < B; ++b) packed[b * S + off] = positions ? static_cast<real>(pos_[b] + T_) : real(0);
}

void DiagonalDecayLayer::forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) {
  B_ = B, T_ = T;
  const Index rows = Index(B) * T;
  const int HK = H_ * K_, HV = H_ * V_, BH = B * H_;
  auto sized = [](RealVector& v, size_t n) { v.resize(n); return v.data(); };
  x_.assign(x, x + rows * D_);
  q_proj_->apply(x, sized(qp_, rows * HK), rows);
  k_proj_->apply(x, sized(kp_, rows * HK), rows);
  v_proj_->apply(x, sized(vp_, rows * HV), rows);
  if (g_proj_) g_proj_->apply(x, sized(gp_, rows * HV), rows);
  decay_forward(x, rows, sized(g_, rows * HK));

  has_state_in_ = state_in != nullptr;
  pos_.assign(B, 0);
  if (state_in) unpack_state(state_in, B);
  const RealVector* proj[3] = {&qp_, &kp_, &vp_};
  RealVector* stream[3] = {&qs_, &ks_, &vs_};
  ShortConv* convs[3] = {q_conv_.get(), k_conv_.get(), v_conv_.get()};
  for (int i = 0; i < 3; ++i) {
    stream[i]->resize(proj[i]->size());
    if (!cfg_.short_conv) {
      std::copy(proj[i]->begin(), proj[i]->end(), stream[i]->begin());
      continue;
    }
    if (state_out) conv_state_out_[i].resize(size_t(B) * convs[i]->state_size());
    convs[i]->forward_stateful(proj[i]->data(), stream[i]->data(), B, T, state_in ? conv_state_in_[i].data() : nullptr,
                               state_out ? conv_state_out_[i].data() : nullptr);
  }
  if (rope_)
    for (int b = 0; b < B; ++b) {
      rope_->forward(qs_.data() + Index(b) * T * HK, 1, T, H_, pos_[b]);
      rope_->forward(ks_.data() + Index(b) * T * HK, 1, T, H_, pos_[b]);
    }

  qh_.resize(size_t(BH) * T * K_), kh_.resize(size_t(BH) * T * K_), gh_.resize(size_t(BH) * T * K_);
  vh_.resize(size_t(BH) * T * V_), oh_.resize(size_t(BH) * T * V_);
  ht_.resize(size_t(BH) * K_ * V_);
  o_.resize(rows * HV);
  if (ws_.size() < size_t(BH)) ws_.resize(BH);
  const bool parallel = BH > 1 && int64_t(BH) * T * K_ * V_ >= kParallelWork;

#pragma omp parallel for schedule(static) if (parallel)
  for (int bh = 0; bh < BH; ++bh) {
    const int b = bh / H_, h = bh % H_;
    for (int t = 0; t < T; ++t) {
      const Index row = Index(b) * T + t;
      const size_t p = size_t(bh) * T + t;
      std::copy_n(qs_.data() + row * HK + h * K_, K_, qh_.data() + p * K_);
      std::copy_n(ks_.data() + row * HK + h * K_, K_, kh_.data() + p * K_);
      std::copy_n(g_.data() + row * HK + h * K_, K_, gh_.data() + p * K_);
      std::copy_n(vs_.data() + row * HV + h * V_, V_, vh_.data() + p * V_);
    }
    DecayAttentionInputs in;
    in.T = T, in.K = K_, in.V = V_, in.chunk = cfg_.chunk_size;
    in.q = qh_.data() + size_t(bh) * T * K_, in.k = kh_.data() + size_t(bh) * T * K_;
    in.v = vh_.data() + size_t(bh) * T * V_, in.g = gh_.data() + size_t(bh) * T * K_;
    in.h0 = has_state_in_ ? h0_.data() + size_t(bh) * K_ * V_ : nullptr;
    real* o = oh_.data() + size_t(bh) * T * V_;
    real* ht = ht_.data() + size_t(bh) * K_ * V_;
    if (cfg_.chunked)
      decay_attention_chunk_forward(in, o, ht, ws_[bh]);
    else
      decay_attention_recurrent_forward(in, o, ht, ws_[bh]);
    for (int t = 0; t < T; ++t) std::copy_n(o + size_t(t) * V_, V_, o_.data() + (Index(b) * T + t) * HV + h * V_);
  }

  o_norm_->forward(o_.data(), g_proj_ ? gp_.data() : nullptr, sized(normed_, rows * HV), rows);
  o_proj_->apply(normed_.data(), y, rows);
  if (state_out) pack_state(ht_, conv_state_out_, true, B, state_out);
}

void DiagonalDecayLayer::backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) {
  const int B = B_, T = T_;
  const Index rows = Index(B) * T;
  const int HK = H_ * K_, HV = H_ * V_, BH = B * H_;
  auto sized = [](RealVector& v, size_t n) { v.resize(n); return v.data(); };

  o_proj_->apply_backward(normed_.data(), dy, sized(d_normed_, rows * HV), rows, false);
  o_norm_->backward(d_normed_.data(), sized(d_o_, rows * HV), g_proj_ ? sized(d_gp_, rows * HV) : nullptr);

  // the carried-state gradient: matrices and conv tails (the position has none)
  const auto n = state_parts();
  const int64_t S = state_size();
  if (dstate_out) {
    dht_.resize(size_t(B) * n[0]);
    for (int b = 0; b < B; ++b) std::copy_n(dstate_out + b * S, n[0], dht_.data() + b * n[0]);
    int64_t off = n[0];
    for (int i = 0; i < 3; ++i) {
      if (n[1 + i] == 0) continue;
      dconv_out_[i].resize(size_t(B) * n[1 + i]);
      for (int b = 0; b < B; ++b) std::copy_n(dstate_out + b * S + off, n[1 + i], dconv_out_[i].data() + b * n[1 + i]);
      off += n[1 + i];
    }
  }

  const bool learned = decay_learned();
  doh_.resize(size_t(BH) * T * V_);
  dqh_.resize(size_t(BH) * T * K_), dkh_.resize(size_t(BH) * T * K_), dvh_.resize(size_t(BH) * T * V_);
  if (learned) dgh_.resize(size_t(BH) * T * K_), sized(dg_, rows * HK);
  dh0_.resize(size_t(BH) * K_ * V_);
  sized(dqs_, rows * HK), sized(dks_, rows * HK), sized(dvs_, rows * HV);
  const bool parallel = BH > 1 && int64_t(BH) * T * K_ * V_ >= kParallelWork;

#pragma omp parallel for schedule(static) if (parallel)
  for (int bh = 0; bh < BH; ++bh) {
    const int b = bh / H_, h = bh % H_;
    for (int t = 0; t < T; ++t)
      std::copy_n(d_o_.data() + (Index(b) * T + t) * HV + h * V_, V_, doh_.data() + (size_t(bh) * T + t) * V_);
    DecayAttentionInputs in;
    in.T = T, in.K = K_, in.V = V_, in.chunk = cfg_.chunk_size;
    in.q = qh_.data() + size_t(bh) * T * K_, in.k = kh_.data() + size_t(bh) * T * K_;
    in.v = vh_.data() + size_t(bh) * T * V_, in.g = gh_.data() + size_t(bh) * T * K_;
    in.h0 = has_state_in_ ? h0_.data() + size_t(bh) * K_ * V_ : nullptr;
    DecayAttentionGrads gr;
    gr.dq = dqh_.data() + size_t(bh) * T * K_, gr.dk = dkh_.data() + size_t(bh) * T * K_;
    gr.dv = dvh_.data() + size_t(bh) * T * V_;
    gr.dg = learned ? dgh_.data() + size_t(bh) * T * K_ : nullptr;
    gr.dh0 = dh0_.data() + size_t(bh) * K_ * V_;
    const real* d_o = doh_.data() + size_t(bh) * T * V_;
    const real* dht = dstate_out ? dht_.data() + size_t(bh) * K_ * V_ : nullptr;
    if (cfg_.chunked)
      decay_attention_chunk_backward(in, d_o, dht, gr, ws_[bh]);
    else
      decay_attention_recurrent_backward(in, d_o, dht, gr, ws_[bh]);
    for (int t = 0; t < T; ++t) {
      const Index row = Index(b) * T + t;
      const size_t p = size_t(bh) * T + t;
      std::copy_n(gr.dq + size_t(t) * K_, K_, dqs_.data() + row * HK + h * K_);
      std::copy_n(gr.dk + size_t(t) * K_, K_, dks_.data() + row * HK + h * K_);
      std::copy_n(gr.dv + size_t(t) * V_, V_, dvs_.data() + row * HV + h * V_);
      if (learned) std::copy_n(dgh_.data() + p * K_, K_, dg_.data() + row * HK + h * K_);
    }
  }

  if (rope_)
    for (int b = 0; b < B; ++b) {
      rope_->backward(dqs_.data() + Index(b) * T * HK, 1, T, H_, pos_[b]);
      rope_->backward(dks_.data() + Index(b) * T * HK, 1, T, H_, pos_[b]);
    }
  RealVector* dstream[3] = {&dqs_, &dks_, &dvs_};
  RealVector* dproj[3] = {&dqp_, &dkp_, &dvp_};
  ShortConv* convs[3] = {q_conv_.get(), k_conv_.get(), v_conv_.get()};
  for (int i = 0; i < 3; ++i) {
    if (!cfg_.short_conv) {
      dproj[i]->assign(dstream[i]->begin(), dstream[i]->end());
      continue;
    }
    dproj[i]->resize(dstream[i]->size());
    if (dstate_in) dconv_in_[i].resize(size_t(B) * convs[i]->state_size());
    convs[i]->backward_stateful(dstream[i]->data(), dstate_out ? dconv_out_[i].data() : nullptr, dproj[i]->data(),
                                dstate_in ? dconv_in_[i].data() : nullptr);
  }

  // dx is written by the first projection and accumulated by the rest
  q_proj_->apply_backward(x_.data(), dqp_.data(), dx, rows, false);
  k_proj_->apply_backward(x_.data(), dkp_.data(), dx, rows, true);
  v_proj_->apply_backward(x_.data(), dvp_.data(), dx, rows, true);
  if (g_proj_) g_proj_->apply_backward(x_.data(), d_gp_.data(), dx, rows, true);
  if (learned) decay_backward(x_.data(), dg_.data(), dx, rows);

  if (dstate_in) pack_state(dh0_, dconv_in_, false, B, dstate_in);
}

}  // namespace db
