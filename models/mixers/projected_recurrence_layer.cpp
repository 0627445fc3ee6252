// projected_recurrence_layer.cpp: the fla layer around a per-head recurrence (see the header).
#include "models/mixers/projected_recurrence_layer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "models/numerics/activation_buffers.h"
#include "models/numerics/activations.h"
#include "models/layers/l2norm.h"
#include "models/numerics/parallel.h"

namespace db {

namespace {

// below this many state updates (B*H*T*K*V*n_h) a forward runs on one thread: forking costs more
constexpr int64_t kParallelWork = int64_t(1) << 16;

// A ~ U(0, 16), A_log = log A (fla/layers/gated_deltanet.py)
void init_A_log(real* data, size_t n, Rng& rng) {
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<real>(std::log(std::max(rng.uniform(0.0, 16.0), 1e-4)));
}
// dt = exp(U(log 1e-3, log 0.1)) clamped >= 1e-4; dt_bias = softplus^-1(dt) = dt + log(-expm1(-dt))
void init_dt_bias(real* data, size_t n, Rng& rng) {
  for (size_t i = 0; i < n; ++i) {
    const double dt = std::max(std::exp(rng.uniform(std::log(1e-3), std::log(0.1))), 1e-4);
    data[i] = static_cast<real>(dt + std::log(-std::expm1(-dt)));
  }
}

void silu_forward(const real* x, real* y, Index n) {
  parallel_blocks(n, 4096, 8 * n, [&](Index i0, Index i1) { silu_buffer(x + i0, y + i0, i1 - i0); });
}
void silu_backward(const real* x, const real* dy, real* dx, Index n) {
  parallel_blocks(n, 4096, 16 * n, [&](Index i0, Index i1) { silu_backward_buffer(x + i0, dy + i0, dx + i0, i1 - i0); });
}

}  // namespace

bool ProjectedRecurrenceLayer::Declaration::offers(OptionGroup g) const {
  return std::find(groups.begin(), groups.end(), g) != groups.end();
}

OptionSpecs ProjectedRecurrenceLayer::option_specs(const Declaration& declaration) {
  const Settings& d = declaration.settings;
  OptionSpecs specs = {
      {"num_heads", int64_t{d.num_heads}, "heads H"},
      {"head_dim", int64_t{d.head_dim}, "key dim K per head; 0 = d_model / num_heads"},
      {"expand_v", d.expand_v, "value dim per head V = K * expand_v"},
  };
  if (declaration.offers(OptionGroup::kWriteStrength)) {
    specs.push_back({"eigen_range", std::vector<double>{d.negative_eigen ? -1.0 : 0.0, 1.0},
                     "eigenvalue range of the transition: [0, 1] (beta = sigmoid) or [-1, 1] (beta = 2 sigmoid)"});
    specs.push_back({"use_beta", d.use_beta, "learned write strength beta (off: beta = 1)"});
  }
  specs.push_back({"use_output_gate", d.output_gate, "multiply the normed output by SiLU(g_proj x)"});
  specs.push_back({"use_short_conv", d.short_conv, "causal depthwise convolution + SiLU on q, k, v"});
  specs.push_back({"conv_size", int64_t{d.conv_size}, "short convolution kernel size"});
  if (declaration.offers(OptionGroup::kKernelChoice)) {
    specs.push_back({"mode", std::string(d.chunked ? "chunk" : "recurrent"),
                     "chunk: chunkwise WY/UT kernel; recurrent: token-by-token reference", {"chunk", "recurrent"}});
    specs.push_back({"chunk_size", int64_t{d.chunk_size}, "chunk length C of the chunkwise kernel (16, 32 or 64)"});
  }
  specs.push_back({"norm_eps", d.norm_eps, "epsilon of the per-head output RMSNorm"});
  if (declaration.offers(OptionGroup::kForgetGate))
    specs.push_back({"use_forget_gate", d.forget_gate, "scalar forget gate g = -exp(A_log) softplus(a_proj x + dt_bias)"});
  if (declaration.offers(OptionGroup::kHouseholder))
    specs.push_back({"householder", int64_t{d.householder}, "Householder sub-steps n_h per token"});
  return specs;
}

ProjectedRecurrenceLayer::Settings ProjectedRecurrenceLayer::settings_from(const Options& o,
                                                                           const Declaration& declaration) {
  Settings s = declaration.settings;
  s.num_heads = static_cast<int>(o.get_int("num_heads"));
  s.head_dim = static_cast<int>(o.get_int("head_dim"));
  s.expand_v = o.get_double("expand_v");
  if (declaration.offers(OptionGroup::kWriteStrength)) {
    const auto& range = o.get_list("eigen_range");
    if (range.size() != 2 || range[1] != 1.0 || (range[0] != 0.0 && range[0] != -1.0))
      throw ConfigError("eigen_range", "'eigen_range' must be [0, 1] or [-1, 1]");
    s.negative_eigen = range[0] == -1.0;
    s.use_beta = o.get_bool("use_beta");
  }
  s.output_gate = o.get_bool("use_output_gate");
  s.short_conv = o.get_bool("use_short_conv");
  s.conv_size = static_cast<int>(o.get_int("conv_size"));
  if (declaration.offers(OptionGroup::kKernelChoice)) {
    s.chunked = o.get_string("mode") == "chunk";
    s.chunk_size = static_cast<int>(o.get_int("chunk_size"));
  }
  s.norm_eps = o.get_double("norm_eps");
  if (declaration.offers(OptionGroup::kForgetGate)) s.forget_gate = o.get_bool("use_forget_gate");
  if (declaration.offers(OptionGroup::kHouseholder)) s.householder = static_cast<int>(o.get_int("householder"));
  if (s.num_heads < 1) throw ConfigError("num_heads", "'num_heads' must be >= 1");
  if (s.head_dim < 0) throw ConfigError("head_dim", "'head_dim' must be >= 0");
  if (!(s.expand_v > 0)) throw ConfigError("expand_v", "'expand_v' must be > 0");
  if (s.conv_size < 1) throw ConfigError("conv_size", "'conv_size' must be >= 1");
  if (s.chunk_size != 16 && s.chunk_size != 32 && s.chunk_size != 64)
    throw ConfigError("chunk_size", fmt::format("'chunk_size' must be 16, 32 or 64, got {}", s.chunk_size));
  if (s.householder < 1) throw ConfigError("householder", "'householder' must be >= 1");
  return s;
}

std::array<int, 2> ProjectedRecurrenceLayer::head_dims(int d_model, const Settings& s) {
  if (s.head_dim == 0 && d_model % s.num_heads != 0)
    throw ConfigError("num_heads", fmt::format("d_model {} is not divisible by num_heads {}", d_model, s.num_heads));
  const int K = s.head_dim > 0 ? s.head_dim : d_model / s.num_heads;
  const int V = static_cast<int>(std::lround(K * s.expand_v));
  if (V < 1) throw ConfigError("expand_v", "value dim per head would be 0");
  return {K, V};
}

ProjectedRecurrenceLayer::ProjectedRecurrenceLayer(int d_model, const Settings& s, ParamArena& arena)
    : cfg_(s), D_(d_model), H_(s.num_heads), nh_(s.householder) {
  const auto [K, V] = head_dims(d_model, s);
  K_ = K, V_ = V;
  const double std = s.init_std;
  q_proj_ = std::make_unique<Linear>(arena, "q_proj", D_, H_ * K_, false, std);
  k_proj_ = std::make_unique<Linear>(arena, "k_proj", D_, nh_ * H_ * K_, false, std);
  v_proj_ = std::make_unique<Linear>(arena, "v_proj", D_, nh_ * H_ * V_, false, std);
  if (s.forget_gate) {
    a_proj_ = std::make_unique<Linear>(arena, "a_proj", D_, H_, false, std);
    A_log_ = arena.add("A_log", {H_}, ParamInit::custom(init_A_log), /*weight_decay=*/false);
    dt_bias_ = arena.add("dt_bias", {H_}, ParamInit::custom(init_dt_bias), /*weight_decay=*/false);
  }
  if (s.use_beta) b_proj_ = std::make_unique<Linear>(arena, "b_proj", D_, nh_ * H_, false, std);
  if (s.short_conv) {
    q_conv_ = std::make_unique<ShortConv>(arena, "q_conv1d", H_ * K_, s.conv_size, true, std);
    k_conv_ = std::make_unique<ShortConv>(arena, "k_conv1d", nh_ * H_ * K_, s.conv_size, true, std);
    v_conv_ = std::make_unique<ShortConv>(arena, "v_conv1d", nh_ * H_ * V_, s.conv_size, true, std);
  }
  if (s.output_gate) g_proj_ = std::make_unique<Linear>(arena, "g_proj", D_, H_ * V_, false, std);
  o_norm_ = std::make_unique<HeadNorm>(arena, "o_norm", H_, V_, s.norm_eps);
  o_proj_ = std::make_unique<Linear>(arena, "o_proj", H_ * V_, D_, false, std);
}

std::array<int64_t, 4> ProjectedRecurrenceLayer::state_parts() const {
  std::array<int64_t, 4> n = {int64_t{H_} * K_ * V_, 0, 0, 0};
  if (cfg_.short_conv) n[1] = q_conv_->state_size(), n[2] = k_conv_->state_size(), n[3] = v_conv_->state_size();
  return n;
}

int64_t ProjectedRecurrenceLayer::state_size() const {
  const auto n = state_parts();
  return n[0] + n[1] + n[2] + n[3];
}

void ProjectedRecurrenceLayer::unpack_state(const real* packed, int B, const std::array<RealVector*, 4>& parts) const {
  const auto n = state_parts();
  const int64_t S = state_size();
  int64_t off = 0;
  for (int i = 0; i < 4; ++i) {
    if (n[i] == 0) continue;
    parts[i]->resize(size_t(B) * n[i]);
    for (int b = 0; b < B; ++b) std::copy_n(packed + b * S + off, n[i], parts[i]->data() + b * n[i]);
    off += n[i];
  }
}

void ProjectedRecurrenceLayer::pack_state(const std::array<const RealVector*, 4>& parts, int B, real* packed) const {
  const auto n = state_parts();
  const int64_t S = state_size();
  int64_t off = 0;
  for (int i = 0; i < 4; ++i) {
    if (n[i] == 0) continue;
    for (int b = 0; b < B; ++b) std::copy_n(parts[i]->data() + b * n[i], n[i], packed + b * S + off);
    off += n[i];
  }
}

RealVector& ProjectedRecurrenceLayer::ones_for(int len) {
  if (static_cast<int>(ones_.size()) < len) ones_.assign(len, real(1));
  return ones_;
}

void ProjectedRecurrenceLayer::run_recurrence_forward(const HeadSequence& s) {
  DeltaRuleInputs in;
  in.T = T_, in.K = K_, in.V = V_, in.n_h = nh_, in.chunk = cfg_.chunk_size;
  in.q = s.q, in.k = s.k, in.v = s.v, in.beta = s.beta, in.g = s.g, in.h0 = s.h0;
  if (cfg_.chunked)
    gated_delta_rule_chunk_forward(in, s.o, s.ht, ws_[s.slot]);
  else
    gated_delta_rule_recurrent_forward(in, s.o, s.ht, ws_[s.slot]);
}

void ProjectedRecurrenceLayer::run_recurrence_backward(const HeadSequence& s, const HeadSequenceGrads& g) {
  DeltaRuleInputs in;
  in.T = T_, in.K = K_, in.V = V_, in.n_h = nh_, in.chunk = cfg_.chunk_size;
  in.q = s.q, in.k = s.k, in.v = s.v, in.beta = s.beta, in.g = s.g, in.h0 = s.h0;
  RealVector scratch_beta;
  DeltaRuleGrads grads;
  grads.dq = g.dq, grads.dk = g.dk, grads.dv = g.dv, grads.dg = g.dg, grads.dh0 = g.dh0;
  // the kernel always produces dbeta; when beta is fixed at 1 it is discarded
  if (g.dbeta) {
    grads.dbeta = g.dbeta;
  } else {
    scratch_beta.resize(static_cast<size_t>(T_) * nh_);
    grads.dbeta = scratch_beta.data();
  }
  if (cfg_.chunked)
    gated_delta_rule_chunk_backward(in, g.d_o, g.dht, grads, ws_[s.slot]);
  else
    gated_delta_rule_recurrent_backward(in, g.d_o, g.dht, grads, ws_[s.slot]);
}

ProjectedRecurrenceLayer::HeadSequence ProjectedRecurrenceLayer::head_sequence(int bh, const real* ones) {
  const size_t T = T_, P = size_t(T_) * nh_;
  HeadSequence s;
  s.slot = bh;
  s.q = qn_.data() + bh * T * K_;
  s.k = kn_.data() + bh * P * K_;
  s.v = vh_.data() + bh * P * V_;
  s.beta = b_proj_ ? beta_.data() + bh * P : ones;
  s.g = a_proj_ ? g_.data() + bh * T : nullptr;
  s.h0 = has_state_in_ ? h0_.data() + size_t(bh) * K_ * V_ : nullptr;
  s.o = oh_.data() + bh * T * V_;
  s.ht = ht_.data() + size_t(bh) * K_ * V_;
  return s;
}

void ProjectedRecurrenceLayer::forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) {
  B_ = B, T_ = T;
  const Index rows = Index(B) * T;
  const int HK = H_ * K_, HV = H_ * V_, P = T * nh_;
  x_.assign(x, x + rows * D_);

  auto sized = [](RealVector& v, size_t n) { v.resize(n); return v.data(); };
  q_proj_->apply(x, sized(qp_, rows * HK), rows);
  k_proj_->apply(x, sized(kp_, rows * nh_ * HK), rows);
  v_proj_->apply(x, sized(vp_, rows * nh_ * HV), rows);
  if (b_proj_) b_proj_->apply(x, sized(bp_, rows * nh_ * H_), rows);
  if (a_proj_) a_proj_->apply(x, sized(ap_, rows * H_), rows);
  if (g_proj_) g_proj_->apply(x, sized(gp_, rows * HV), rows);

  // carried state: recurrent matrices then the conv tails
  has_state_in_ = state_in != nullptr;
  ShortConv* convs[3] = {q_conv_.get(), k_conv_.get(), v_conv_.get()};
  if (state_in) unpack_state(state_in, B, {&h0_, &conv_state_in_[0], &conv_state_in_[1], &conv_state_in_[2]});
  const RealVector* proj[3] = {&qp_, &kp_, &vp_};
  RealVector* conv_out[3] = {&qc_, &kc_, &vc_};
  for (int i = 0; i < 3; ++i) {
    conv_out[i]->resize(proj[i]->size());
    if (cfg_.short_conv) {
      const int64_t n = convs[i]->state_size();
      if (state_out) conv_state_out_[i].resize(static_cast<size_t>(B) * n);
      convs[i]->forward_stateful(proj[i]->data(), conv_out[i]->data(), B, T,
                                 state_in ? conv_state_in_[i].data() : nullptr,
                                 state_out ? conv_state_out_[i].data() : nullptr);
    } else {
      silu_forward(proj[i]->data(), conv_out[i]->data(), proj[i]->size());
    }
  }

  // kernel layout, normalisation, beta and gate: one (batch, head) per iteration
  const int BH = B * H_;
  qn_.resize(size_t(BH) * T * K_), q_rstd_.resize(size_t(BH) * T);
  kn_.resize(size_t(BH) * P * K_), k_rstd_.resize(size_t(BH) * P);
  vh_.resize(size_t(BH) * P * V_);
  if (b_proj_) beta_.resize(size_t(BH) * P);
  if (a_proj_) g_.resize(size_t(BH) * T), gz_.resize(size_t(BH) * T);
  oh_.resize(size_t(BH) * T * V_);
  ht_.resize(size_t(BH) * K_ * V_);
  if (ws_.size() < size_t(BH)) ws_.resize(BH);
  prepare_recurrence(BH);
  o_.resize(rows * HV);
  const real* ones = b_proj_ ? nullptr : ones_for(P).data();
  const real beta_scale = cfg_.negative_eigen ? real(2) : real(1);
  const real eps = static_cast<real>(kL2NormEps);
  // one thread per (batch, head) sequence once there is enough work to pay for the fork
  const bool parallel = BH > 1 && int64_t(BH) * T * K_ * V_ * nh_ >= kParallelWork;

#pragma omp parallel for schedule(static) if (parallel)
  for (int bh = 0; bh < BH; ++bh) {
    const int b = bh / H_, h = bh % H_;
    for (int t = 0; t < T; ++t) {
      const Index row = Index(b) * T + t;
      l2norm_forward(qc_.data() + row * HK + h * K_, qn_.data() + (size_t(bh) * T + t) * K_,
                     q_rstd_.data() + size_t(bh) * T + t, 1, K_, eps);
      for (int j = 0; j < nh_; ++j) {
        const size_t p = size_t(bh) * P + size_t(t) * nh_ + j;
        l2norm_forward(kc_.data() + row * nh_ * HK + j * HK + h * K_, kn_.data() + p * K_, k_rstd_.data() + p, 1,
                       K_, eps);
        std::copy_n(vc_.data() + row * nh_ * HV + j * HV + h * V_, V_, vh_.data() + p * V_);
        if (b_proj_) beta_[p] = beta_scale * sigmoid(bp_[row * nh_ * H_ + j * H_ + h]);
      }
      if (a_proj_) {
        const real z = ap_[row * H_ + h] + dt_bias_.data()[h];
        gz_[size_t(bh) * T + t] = z;
        g_[size_t(bh) * T + t] = -std::exp(A_log_.data()[h]) * softplus(z);
      }
    }
    const HeadSequence s = head_sequence(bh, ones);
    run_recurrence_forward(s);
    for (int t = 0; t < T; ++t)
      std::copy_n(s.o + size_t(t) * V_, V_, o_.data() + (Index(b) * T + t) * HV + h * V_);
  }

  o_norm_->forward(o_.data(), g_proj_ ? gp_.data() : nullptr, sized(normed_, rows * HV), rows);
  o_proj_->apply(normed_.data(), y, rows);

  if (state_out) pack_state({&ht_, &conv_state_out_[0], &conv_state_out_[1], &conv_state_out_[2]}, B, state_out);
}

void ProjectedRecurrenceLayer::backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) {
  const int B = B_, T = T_;
  const Index rows = Index(B) * T;
  const int HK = H_ * K_, HV = H_ * V_, P = T * nh_, BH = B * H_;
  auto sized = [](RealVector& v, size_t n) { v.resize(n); return v.data(); };

  o_proj_->apply_backward(normed_.data(), dy, sized(d_normed_, rows * HV), rows, false);
  o_norm_->backward(d_normed_.data(), sized(d_o_, rows * HV), g_proj_ ? sized(d_gp_, rows * HV) : nullptr);

  ShortConv* convs[3] = {q_conv_.get(), k_conv_.get(), v_conv_.get()};
  if (dstate_out) unpack_state(dstate_out, B, {&dht_, &dconv_out_[0], &dconv_out_[1], &dconv_out_[2]});

  doh_.resize(size_t(BH) * T * V_);
  dqn_.resize(size_t(BH) * T * K_), dkn_.resize(size_t(BH) * P * K_), dvh_.resize(size_t(BH) * P * V_);
  if (b_proj_) dbeta_.resize(size_t(BH) * P), sized(dbp_, rows * nh_ * H_);
  if (a_proj_) dg_.resize(size_t(BH) * T), sized(dap_, rows * H_), dA_part_.assign(BH, 0), ddt_part_.assign(BH, 0);
  dh0_.resize(size_t(BH) * K_ * V_);
  sized(dqc_, rows * HK), sized(dkc_, rows * nh_ * HK), sized(dvc_, rows * nh_ * HV);
  const real* ones = b_proj_ ? nullptr : ones_for(P).data();
  const real beta_scale = cfg_.negative_eigen ? real(2) : real(1);
  const bool parallel = BH > 1 && int64_t(BH) * T * K_ * V_ * nh_ >= kParallelWork;

#pragma omp parallel for schedule(static) if (parallel)
  for (int bh = 0; bh < BH; ++bh) {
    const int b = bh / H_, h = bh % H_;
    for (int t = 0; t < T; ++t)
      std::copy_n(d_o_.data() + (Index(b) * T + t) * HV + h * V_, V_, doh_.data() + (size_t(bh) * T + t) * V_);
    const HeadSequence s = head_sequence(bh, ones);
    HeadSequenceGrads gr;
    gr.d_o = doh_.data() + size_t(bh) * T * V_;
    gr.dht = dstate_out ? dht_.data() + size_t(bh) * K_ * V_ : nullptr;
    gr.dq = dqn_.data() + size_t(bh) * T * K_;
    gr.dk = dkn_.data() + size_t(bh) * P * K_;
    gr.dv = dvh_.data() + size_t(bh) * P * V_;
    gr.dbeta = b_proj_ ? dbeta_.data() + size_t(bh) * P : nullptr;
    gr.dg = a_proj_ ? dg_.data() + size_t(bh) * T : nullptr;
    gr.dh0 = dh0_.data() + size_t(bh) * K_ * V_;
    run_recurrence_backward(s, gr);

    // back to projection layout: L2-norm, sigmoid and gate backward
    double dA = 0.0, ddt = 0.0;
    for (int t = 0; t < T; ++t) {
      const Index row = Index(b) * T + t;
      l2norm_backward(s.q + size_t(t) * K_, q_rstd_.data() + size_t(bh) * T + t, gr.dq + size_t(t) * K_,
                      dqc_.data() + row * HK + h * K_, 1, K_);
      for (int j = 0; j < nh_; ++j) {
        const size_t p = size_t(t) * nh_ + j;
        l2norm_backward(s.k + p * K_, k_rstd_.data() + size_t(bh) * P + p, gr.dk + p * K_,
                        dkc_.data() + row * nh_ * HK + j * HK + h * K_, 1, K_);
        std::copy_n(gr.dv + p * V_, V_, dvc_.data() + row * nh_ * HV + j * HV + h * V_);
        if (b_proj_) {
          const real sig = s.beta[p] / beta_scale;
          dbp_[row * nh_ * H_ + j * H_ + h] = gr.dbeta[p] * beta_scale * sig * (real(1) - sig);
        }
      }
      if (a_proj_) {
        const real dgt = gr.dg[t];
        const real z = gz_[size_t(bh) * T + t];
        const real dz = dgt * -std::exp(A_log_.data()[h]) * sigmoid(z);
        dap_[row * H_ + h] = dz;
        dA += static_cast<double>(dgt) * s.g[t];
        ddt += dz;
      }
    }
    if (a_proj_) dA_part_[bh] = static_cast<real>(dA), ddt_part_[bh] = static_cast<real>(ddt);
  }
  if (a_proj_)
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < H_; ++h) {
        A_log_.grad()[h] += dA_part_[b * H_ + h];
        dt_bias_.grad()[h] += ddt_part_[b * H_ + h];
      }

  // conv (or plain SiLU) backward into projection gradients
  const RealVector* proj[3] = {&qp_, &kp_, &vp_};
  RealVector* dconv[3] = {&dqc_, &dkc_, &dvc_};
  RealVector* dproj[3] = {&dqp_, &dkp_, &dvp_};
  for (int i = 0; i < 3; ++i) {
    dproj[i]->resize(proj[i]->size());
    if (cfg_.short_conv) {
      const int64_t n = convs[i]->state_size();
      if (dstate_in) dconv_in_[i].resize(size_t(B) * n);
      convs[i]->backward_stateful(dconv[i]->data(), dstate_out ? dconv_out_[i].data() : nullptr, dproj[i]->data(),
                                  dstate_in ? dconv_in_[i].data() : nullptr);
    } else {
      silu_backward(proj[i]->data(), dconv[i]->data(), dproj[i]->data(), proj[i]->size());
    }
  }

  // projections: dx is written by the first and accumulated by the rest
  q_proj_->apply_backward(x_.data(), dqp_.data(), dx, rows, false);
  k_proj_->apply_backward(x_.data(), dkp_.data(), dx, rows, true);
  v_proj_->apply_backward(x_.data(), dvp_.data(), dx, rows, true);
  if (b_proj_) b_proj_->apply_backward(x_.data(), dbp_.data(), dx, rows, true);
  if (a_proj_) a_proj_->apply_backward(x_.data(), dap_.data(), dx, rows, true);
  if (g_proj_) g_proj_->apply_backward(x_.data(), d_gp_.data(), dx, rows, true);

  if (dstate_in) pack_state({&dh0_, &dconv_in_[0], &dconv_in_[1], &dconv_in_[2]}, B, dstate_in);
}

}  // namespace db
