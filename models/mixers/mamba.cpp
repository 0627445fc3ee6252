// mamba.cpp: the Mamba (S6) selective SSM mixer (see the header).
#include "models/mixers/mamba.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "models/numerics/activation_buffers.h"
#include "models/numerics/activations.h"
#include "models/numerics/gemm.h"
#include "models/numerics/parallel.h"

namespace db {

namespace {

// the carried state of one sequence: H [Di, N] then the conv tail; moved between [B, S] and parts
void split_state(const real* packed, int B, int64_t n0, int64_t n1, RealVector& p0, RealVector& p1) {
  p0.resize(size_t(B) * n0), p1.resize(size_t(B) * n1);
  for (int b = 0; b < B; ++b) {
    std::copy_n(packed + b * (n0 + n1), n0, p0.data() + b * n0);
    std::copy_n(packed + b * (n0 + n1) + n0, n1, p1.data() + b * n1);
  }
}
void join_state(const RealVector& p0, const RealVector& p1, int B, int64_t n0, int64_t n1, real* packed) {
  for (int b = 0; b < B; ++b) {
    std::copy_n(p0.data() + b * n0, n0, packed + b * (n0 + n1));
    std::copy_n(p1.data() + b * n1, n1, packed + b * (n0 + n1) + n0);
  }
}

int resolve_dt_rank(int d_model, int64_t given) {
  if (given < 0) throw ConfigError("dt_rank", "'dt_rank' must be >= 0 (0 = ceil(d_model / 16))");
  return given > 0 ? static_cast<int>(given) : (d_model + 15) / 16;
}

}  // namespace

MambaMixer::MambaMixer(int d_model, const Options& o, ParamArena& arena)
    : D_(d_model),
      Di_(static_cast<int>(o.get_int("expand")) * d_model),
      N_(static_cast<int>(o.get_int("d_state"))),
      W_(static_cast<int>(o.get_int("d_conv"))),
      R_(resolve_dt_rank(d_model, o.get_int("dt_rank"))),
      chunked_(o.get_string("mode") == "chunk"),
      use_conv_bias_(o.get_bool("conv_bias")),
      chunk_size_(static_cast<int>(o.get_int("chunk_size"))) {
  if (o.get_int("expand") < 1) throw ConfigError("expand", "'expand' must be >= 1");
  if (N_ < 1) throw ConfigError("d_state", "'d_state' must be >= 1");
  if (W_ < 1) throw ConfigError("d_conv", "'d_conv' must be >= 1");
  if (chunk_size_ < 1) throw ConfigError("chunk_size", "'chunk_size' must be >= 1");
  const auto& range = o.get_list("eigen_range");
  if (range.size() != 2 || range[1] != 1.0 || (range[0] != 0.0 && range[0] != -1.0))
    throw ConfigError("eigen_range", "'eigen_range' must be [0, 1] or [-1, 1]");
  negative_eigen_ = range[0] == -1.0;
  const double dt_min = o.get_double("dt_min"), dt_max = o.get_double("dt_max");
  if (!(dt_min > 0) || !(dt_max >= dt_min)) throw ConfigError("dt_min", "need 0 < dt_min <= dt_max");
  const double dt_std = o.get_double("dt_scale") / std::sqrt(double(R_));

  in_proj_ = std::make_unique<Linear>(arena, "in_proj", D_, 2 * Di_, false, 0.02);
  // PyTorch's Conv1d default has variance 1/(3W) for the weight (see the header)
  conv_ = std::make_unique<ShortConv>(arena, "conv1d", Di_, W_, /*silu=*/false, 1.0 / std::sqrt(3.0 * W_));
  if (use_conv_bias_) {
    conv_bias_ = arena.add("conv1d.bias", {Di_}, ParamInit::uniform(1.0 / std::sqrt(double(W_))), /*weight_decay=*/false);
  }
  x_proj_ = std::make_unique<Linear>(arena, "x_proj", Di_, R_ + 2 * N_, false, 0.02);
  dt_weight_ = arena.add("dt_proj.weight", {Di_, R_}, ParamInit::uniform(dt_std));
  // softplus(bias) = dt, dt log-uniform in [dt_min, dt_max], floored at 1e-4
  dt_bias_ = arena.add("dt_proj.bias", {Di_}, ParamInit::custom([dt_min, dt_max](real* p, size_t n, Rng& rng) {
                         for (size_t i = 0; i < n; ++i) {
                           const double dt = std::max(std::exp(rng.uniform(std::log(dt_min), std::log(dt_max))), 1e-4);
                           p[i] = static_cast<real>(dt + std::log(-std::expm1(-dt)));
                         }
                       }),
                       /*weight_decay=*/false);
  const int N = N_;
  A_log_ = arena.add("A_log", {Di_, N_}, ParamInit::custom([N](real* p, size_t n, Rng&) {
                       for (size_t i = 0; i < n; ++i) p[i] = static_cast<real>(std::log(double(1 + i % N)));
                     }),
                     /*weight_decay=*/false);
  D_skip_ = arena.add("D", {Di_}, ParamInit::ones(), /*weight_decay=*/false);
  out_proj_ = std::make_unique<Linear>(arena, "out_proj", Di_, D_, false, 0.02);
}

SelectiveScanInputs MambaMixer::scan_inputs(int b) const {
  SelectiveScanInputs in;
  const size_t r0 = size_t(b) * T_;
  in.T = T_, in.Di = Di_, in.N = N_, in.chunk = chunk_size_, in.negative_eigen = negative_eigen_;
  in.dt = dt_.data() + r0 * Di_;
  in.u = u_.data() + r0 * Di_;
  in.B = Bm_.data() + r0 * N_;
  in.C = Cm_.data() + r0 * N_;
  in.A = A_.data();
  in.h0 = has_state_in_ ? h0_.data() + size_t(b) * Di_ * N_ : nullptr;
  return in;
}

bool MambaMixer::parallel_rows() const {
  return worth_a_parallel_region(B_, Index(B_) * T_ * Di_ * N_ * 8);
}

void MambaMixer::forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) {
  B_ = B, T_ = T;
  const Index rows = Index(B) * T;
  const int P = R_ + 2 * N_;
  const int64_t S_ssm = int64_t{Di_} * N_, S_conv = conv_->state_size();
  auto sized = [](RealVector& v, size_t n) { v.resize(n); return v.data(); };
  x_.assign(x, x + rows * D_);

  in_proj_->apply(x, sized(xz_, rows * 2 * Di_), rows);
  sized(xin_, rows * Di_);
  for (Index r = 0; r < rows; ++r) std::copy_n(xz_.data() + r * 2 * Di_, Di_, xin_.data() + r * Di_);

  has_state_in_ = state_in != nullptr;
  if (state_in) split_state(state_in, B, S_ssm, S_conv, h0_, conv_in_);
  if (state_out) conv_out_.resize(size_t(B) * S_conv);
  conv_->forward_stateful(xin_.data(), sized(v_, rows * Di_), B, T, state_in ? conv_in_.data() : nullptr,
                          state_out ? conv_out_.data() : nullptr);
  if (use_conv_bias_)
    for (Index r = 0; r < rows; ++r)
      for (int c = 0; c < Di_; ++c) v_[r * Di_ + c] += conv_bias_.data()[c];
  silu_buffer(v_.data(), sized(u_, rows * Di_), rows * Di_);

  x_proj_->apply(u_.data(), sized(xdbl_, rows * P), rows);
  sized(dlow_, rows * R_), sized(Bm_, rows * N_), sized(Cm_, rows * N_);
  for (Index r = 0; r < rows; ++r) {
    const real* src = xdbl_.data() + r * P;
    std::copy_n(src, R_, dlow_.data() + r * R_);
    std::copy_n(src + R_, N_, Bm_.data() + r * N_);
    std::copy_n(src + R_ + N_, N_, Cm_.data() + r * N_);
  }
  gemm_nt(dlow_.data(), dt_weight_.data(), sized(dt_raw_, rows * Di_), rows, Di_, R_);
  sized(dt_, rows * Di_);
  for (Index r = 0; r < rows; ++r)
    for (int c = 0; c < Di_; ++c) {
      real& z = dt_raw_[r * Di_ + c];
      z += dt_bias_.data()[c];
      dt_[r * Di_ + c] = softplus(z);
    }
  sized(A_, S_ssm);
  for (int64_t i = 0; i < S_ssm; ++i) A_[i] = -std::exp(A_log_.data()[i]);

  sized(ys_, rows * Di_), sized(ht_, size_t(B) * S_ssm);
  if (ws_.size() < size_t(B)) ws_.resize(B);
  const bool parallel = parallel_rows();
#pragma omp parallel for schedule(static) if (parallel)
  for (int b = 0; b < B; ++b) {
    const SelectiveScanInputs in = scan_inputs(b);
    real* yb = ys_.data() + size_t(b) * T * Di_;
    real* hb = ht_.data() + size_t(b) * S_ssm;
    if (chunked_)
      selective_scan_chunk_forward(in, yb, hb, ws_[b]);
    else
      selective_scan_recurrent_forward(in, yb, hb, ws_[b]);
  }

  sized(yd_, rows * Di_), sized(gate_, rows * Di_), sized(o_, rows * Di_);
  for (Index r = 0; r < rows; ++r)
    for (int c = 0; c < Di_; ++c) {
      const Index i = r * Di_ + c;
      yd_[i] = ys_[i] + D_skip_.data()[c] * u_[i];
      gate_[i] = silu(xz_[r * 2 * Di_ + Di_ + c]);
      o_[i] = yd_[i] * gate_[i];
    }
  out_proj_->apply(o_.data(), y, rows);

  if (state_out) join_state(ht_, conv_out_, B, S_ssm, S_conv, state_out);
}

void MambaMixer::backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) {
  const int B = B_, T = T_;
  const Index rows = Index(B) * T;
  const int P = R_ + 2 * N_;
  const int64_t S_ssm = int64_t{Di_} * N_, S_conv = conv_->state_size();
  auto sized = [](RealVector& v, size_t n) { v.resize(n); return v.data(); };

  out_proj_->apply_backward(o_.data(), dy, sized(do_, rows * Di_), rows, false);
  sized(dyd_, rows * Di_), sized(dxz_, rows * 2 * Di_), sized(du_, rows * Di_);
  real* dD = D_skip_.grad();
  for (Index r = 0; r < rows; ++r)
    for (int c = 0; c < Di_; ++c) {
      const Index i = r * Di_ + c;
      const real z = xz_[r * 2 * Di_ + Di_ + c];
      dyd_[i] = do_[i] * gate_[i];
      dxz_[r * 2 * Di_ + Di_ + c] = do_[i] * yd_[i] * silu_grad(z);
      dD[c] += dyd_[i] * u_[i];
      du_[i] = dyd_[i] * D_skip_.data()[c];
    }

  if (dstate_out) split_state(dstate_out, B, S_ssm, S_conv, dht_, dconv_out_);
  sized(ddt_, rows * Di_), sized(du_scan_, rows * Di_), sized(dB_, rows * N_), sized(dC_, rows * N_);
  sized(dA_part_, size_t(B) * S_ssm), sized(dh0_, size_t(B) * S_ssm);
  const bool parallel = parallel_rows();
#pragma omp parallel for schedule(static) if (parallel)
  for (int b = 0; b < B; ++b) {
    const SelectiveScanInputs in = scan_inputs(b);
    const size_t r0 = size_t(b) * T;
    SelectiveScanGrads g;
    g.ddt = ddt_.data() + r0 * Di_;
    g.du = du_scan_.data() + r0 * Di_;
    g.dB = dB_.data() + r0 * N_;
    g.dC = dC_.data() + r0 * N_;
    g.dA = dA_part_.data() + size_t(b) * S_ssm;
    g.dh0 = dh0_.data() + size_t(b) * S_ssm;
    const real* dht = dstate_out ? dht_.data() + size_t(b) * S_ssm : nullptr;
    if (chunked_)
      selective_scan_chunk_backward(in, dyd_.data() + r0 * Di_, dht, g, ws_[b]);
    else
      selective_scan_recurrent_backward(in, dyd_.data() + r0 * Di_, dht, g, ws_[b]);
  }
  for (Index i = 0; i < rows * Di_; ++i) du_[i] += du_scan_[i];
  // A = -exp(A_log): dA/dA_log = A; rows summed in order
  for (int b = 0; b < B; ++b)
    for (int64_t i = 0; i < S_ssm; ++i) A_log_.grad()[i] += dA_part_[size_t(b) * S_ssm + i] * A_[i];

  // dt = softplus(dlow W^T + bias)
  for (Index i = 0; i < rows * Di_; ++i) ddt_[i] *= softplus_grad(dt_raw_[i]);
  for (Index r = 0; r < rows; ++r)
    for (int c = 0; c < Di_; ++c) dt_bias_.grad()[c] += ddt_[r * Di_ + c];
  gemm_tn(ddt_.data(), dlow_.data(), dt_weight_.grad(), Di_, R_, rows, /*accumulate=*/true);
  RealVector& ddlow = dv_;  // scratch before dv_ is needed
  gemm_nn(ddt_.data(), dt_weight_.data(), sized(ddlow, rows * R_), rows, R_, Di_);
  sized(dxdbl_, rows * P);
  for (Index r = 0; r < rows; ++r) {
    real* dst = dxdbl_.data() + r * P;
    std::copy_n(ddlow.data() + r * R_, R_, dst);
    std::copy_n(dB_.data() + r * N_, N_, dst + R_);
    std::copy_n(dC_.data() + r * N_, N_, dst + R_ + N_);
  }
  x_proj_->apply_backward(u_.data(), dxdbl_.data(), du_.data(), rows, /*accumulate_dx=*/true);

  silu_backward_buffer(v_.data(), du_.data(), sized(dv_, rows * Di_), rows * Di_);
  if (use_conv_bias_)
    for (Index r = 0; r < rows; ++r)
      for (int c = 0; c < Di_; ++c) conv_bias_.grad()[c] += dv_[r * Di_ + c];
  if (dstate_in) dconv_in_.resize(size_t(B) * S_conv);
  conv_->backward_stateful(dv_.data(), dstate_out ? dconv_out_.data() : nullptr, sized(dxin_, rows * Di_),
                           dstate_in ? dconv_in_.data() : nullptr);
  for (Index r = 0; r < rows; ++r) std::copy_n(dxin_.data() + r * Di_, Di_, dxz_.data() + r * 2 * Di_);
  in_proj_->apply_backward(x_.data(), dxz_.data(), dx, rows, false);

  if (dstate_in) join_state(dh0_, dconv_in_, B, S_ssm, S_conv, dstate_in);
}

const MixerEntry mamba_mixer_entry{
    "mamba",
    "Mamba (S6) selective SSM (mamba_ssm / fla); eigen_range [0,1] or [-1,1] (Grazzi et al.); chunked or recurrent scan",
    {
        {"d_state", int64_t{16}, "SSM state size N per channel"},
        {"d_conv", int64_t{4}, "causal depthwise convolution width"},
        {"expand", int64_t{2}, "inner channels Di = expand * d_model"},
        {"dt_rank", int64_t{0}, "rank R of the dt projection; 0 = ceil(d_model / 16)"},
        {"dt_min", 0.001, "smallest initial step size dt"},
        {"dt_max", 0.1, "largest initial step size dt"},
        {"dt_scale", 1.0, "dt_proj.weight ~ U(-s, s), s = dt_scale / sqrt(dt_rank)"},
        {"conv_bias", true, "bias on the convolution (mamba_ssm's conv_bias)"},
        {"eigen_range", std::vector<double>{0.0, 1.0},
         "range of the transition: [0, 1] (exp(dt A)) or [-1, 1] (2 exp(dt A) - 1)"},
        {"mode", std::string("recurrent"), "recurrent: token-by-token scan (the reference, and the faster on a CPU); chunk: chunked scan (less memory)", {"chunk", "recurrent"}},
        {"chunk_size", int64_t{64}, "chunk length of the chunked scan"},
    },
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<MambaMixer>(d_model, o, a);
    },
    {
        {{"mode", std::string("chunk")}, {"chunk_size", int64_t{4}}},
        {{"mode", std::string("chunk")}, {"chunk_size", int64_t{3}}, {"eigen_range", std::vector<double>{-1, 1}}},
        {{"conv_bias", false}, {"d_state", int64_t{4}}, {"dt_rank", int64_t{3}}, {"expand", int64_t{1}},
         {"d_conv", int64_t{2}}, {"mode", std::string("recurrent")}},
        {{"mode", std::string("recurrent")}, {"eigen_range", std::vector<double>{-1, 1}}, {"dt_scale", 4.0}},
    },
};

}  // namespace db
