// gpu_projected_recurrence_layer.cpp: the CUDA half of the projected-recurrence layer (see the header).
#include "models/mixers/cuda/gpu_projected_recurrence_layer.h"

#include <type_traits>

#include "models/cuda/blas.h"
#include "models/layers/cuda/gpu_head_norm.h"
#include "models/layers/cuda/gpu_short_conv.h"
#include "models/layers/cuda/swiglu.h"
#include "models/layers/l2norm.h"
#include "models/mixers/cuda/projected_recurrence.h"

namespace db::cuda {

GpuProjectedRecurrenceLayer::GpuProjectedRecurrenceLayer(const Context& ctx, int d_model, const Settings& s,
                                                         const ParamScope& params)
    : ctx_(ctx), cfg_(s), D_(d_model), H_(s.num_heads), nh_(s.householder) {
  const auto [K, V] = ProjectedRecurrenceLayer::head_dims(d_model, s);
  K_ = K, V_ = V;
  q_proj_ = params("q_proj.weight");
  k_proj_ = params("k_proj.weight");
  v_proj_ = params("v_proj.weight");
  o_proj_ = params("o_proj.weight");
  if (s.use_beta) b_proj_ = params("b_proj.weight");
  if (s.forget_gate) a_proj_ = params("a_proj.weight"), A_log_ = params("A_log"), dt_bias_ = params("dt_bias");
  if (s.output_gate) g_proj_ = params("g_proj.weight");
  if (s.short_conv) {
    const char* names[3] = {"q_conv1d", "k_conv1d", "v_conv1d"};
    const int channels[3] = {H_ * K_, nh_ * H_ * K_, nh_ * H_ * V_};
    for (int i = 0; i < 3; ++i)
      conv_[i] = std::make_unique<GpuShortConv>(ctx, params.sub(names[i]), channels[i], s.conv_size, true);
  }
  o_norm_ = std::make_unique<GpuHeadNorm>(ctx, params.sub("o_norm"), H_, V_, s.norm_eps);
}

GpuProjectedRecurrenceLayer::~GpuProjectedRecurrenceLayer() = default;

GpuProjectedRecurrenceLayer::Sequences GpuProjectedRecurrenceLayer::sequences() {
  Sequences s;
  s.S = B_ * H_, s.T = T_, s.K = K_, s.V = V_, s.n_h = nh_;
  s.q = qn_.data(), s.k = kn_.data(), s.v = vh_.data(), s.beta = beta_.data();
  s.g = a_proj_.value ? g_.data() : nullptr;
  s.o = oh_.data();
  return s;
}

void GpuProjectedRecurrenceLayer::forward(const float* x, float* y, int B, int T) {
  B_ = B, T_ = T;
  with_activation_type(ctx_, [&](auto type) { forward_as<decltype(type)>(x, y); });
}

void GpuProjectedRecurrenceLayer::backward(const float* dy, float* dx) {
  with_activation_type(ctx_, [&](auto type) { backward_as<decltype(type)>(dy, dx); });
}

template <class A>
void GpuProjectedRecurrenceLayer::forward_as(const float* x, float* y) {
  const int B = B_, T = T_;
  const int rows = B * T, HK = H_ * K_, HV = H_ * V_, S = B * H_;
  const size_t P = size_t(T) * nh_;
  const int widths[3] = {HK, nh_ * HK, nh_ * HV};
  // the input every projection reads, forward and backward: x itself, or x rounded once to bf16
  const A* xa;
  if constexpr (std::is_same_v<A, float>) {
    xa = x;
  } else {
    A* rounded = x_bf16_.resize(size_t(rows) * D_);
    store_activation(ctx_, x, rounded, size_t(rows) * D_);
    xa = rounded;
  }
  x_ = xa;
  const DeviceParam* projections[3] = {&q_proj_, &k_proj_, &v_proj_};
  for (int i = 0; i < 3; ++i) {
    const size_t n = size_t(rows) * widths[i];
    A* p = proj_[i].resize<A>(n);
    linear_forward(ctx_, xa, projections[i]->operand(ctx_), p, rows, D_, widths[i]);
    float* c = conv_out_[i].resize(n);
    if (conv_[i])
      conv_[i]->forward(static_cast<const A*>(p), c, B, T);
    else
      silu_forward(ctx_, static_cast<const A*>(p), c, n);
  }
  if (b_proj_.value)
    linear_forward(ctx_, xa, b_proj_.operand(ctx_), bp_.resize(size_t(rows) * nh_ * H_), rows, D_, nh_ * H_);
  if (a_proj_.value) linear_forward(ctx_, xa, a_proj_.operand(ctx_), ap_.resize(size_t(rows) * H_), rows, D_, H_);
  const A* gate = nullptr;
  if (g_proj_.value) {
    A* g = gp_.resize<A>(size_t(rows) * HV);
    linear_forward(ctx_, xa, g_proj_.operand(ctx_), g, rows, D_, HV);
    gate = g;
  }

  // kernel layout; q and k L2-normalised on the way
  const float eps = static_cast<float>(kL2NormEps);
  to_heads_l2norm(ctx_, conv_out_[0].data(), qn_.resize(size_t(S) * T * K_), q_rstd_.resize(size_t(S) * T), B, T, H_,
                  1, K_, eps);
  to_heads_l2norm(ctx_, conv_out_[1].data(), kn_.resize(size_t(S) * P * K_), k_rstd_.resize(size_t(S) * P), B, T, H_,
                  nh_, K_, eps);
  to_heads(ctx_, conv_out_[2].data(), vh_.resize(size_t(S) * P * V_), B, T, H_, nh_, V_);
  beta_.resize(size_t(S) * P);
  if (b_proj_.value)
    beta_forward(ctx_, bp_.data(), beta_.data(), B, T, H_, nh_, cfg_.negative_eigen ? 2.f : 1.f);
  else
    fill(ctx_, beta_.data(), beta_.size(), 1.f);
  if (a_proj_.value)
    gate_forward(ctx_, ap_.data(), A_log_.value, dt_bias_.value, g_.resize(size_t(S) * T), gz_.resize(size_t(S) * T),
                 B, T, H_);
  oh_.resize(size_t(S) * T * V_);
  recurrence_forward(sequences());

  from_heads(ctx_, oh_.data(), o_.resize(size_t(rows) * HV), B, T, H_, 1, V_);
  A* normed = normed_.resize<A>(size_t(rows) * HV);
  o_norm_->forward(o_.data(), gate, normed, rows);
  linear_forward(ctx_, static_cast<const A*>(normed), o_proj_.operand(ctx_), y, rows, HV, D_);
}

template <class A>
void GpuProjectedRecurrenceLayer::backward_as(const float* dy, float* dx) {
  const int B = B_, T = T_, rows = B * T, HK = H_ * K_, HV = H_ * V_, S = B * H_;
  const size_t P = size_t(T) * nh_;

  linear_backward(ctx_, normed_.data<A>(), dy, o_proj_.operand(ctx_), o_proj_.grad, d_normed_.resize(size_t(rows) * HV),
                  rows, HV, D_);
  o_norm_->backward(d_normed_.data(), d_o_.resize(size_t(rows) * HV),
                    g_proj_.value ? d_gp_.resize(size_t(rows) * HV) : nullptr);
  to_heads(ctx_, d_o_.data(), doh_.resize(size_t(S) * T * V_), B, T, H_, 1, V_);

  SequenceGrads g;
  g.d_o = doh_.data();
  g.dq = dqn_.resize(size_t(S) * T * K_);
  g.dk = dkn_.resize(size_t(S) * P * K_);
  g.dv = dvh_.resize(size_t(S) * P * V_);
  g.dbeta = dbeta_.resize(size_t(S) * P);
  g.dg = a_proj_.value ? dg_.resize(size_t(S) * T) : nullptr;
  recurrence_backward(sequences(), g);

  // back to projection layout through the L2 norms, beta and the gate
  const int widths[3] = {HK, nh_ * HK, nh_ * HV};
  for (int i = 0; i < 3; ++i) dconv_[i].resize(size_t(rows) * widths[i]);
  l2norm_backward_from_heads(ctx_, qn_.data(), q_rstd_.data(), g.dq, dconv_[0].data(), B, T, H_, 1, K_);
  l2norm_backward_from_heads(ctx_, kn_.data(), k_rstd_.data(), g.dk, dconv_[1].data(), B, T, H_, nh_, K_);
  from_heads(ctx_, g.dv, dconv_[2].data(), B, T, H_, nh_, V_);
  if (b_proj_.value)
    beta_backward(ctx_, beta_.data(), g.dbeta, dbp_.resize(size_t(rows) * nh_ * H_), B, T, H_, nh_,
                  cfg_.negative_eigen ? 2.f : 1.f);
  if (a_proj_.value)
    gate_backward(ctx_, g_.data(), gz_.data(), g.dg, A_log_.value, dap_.resize(size_t(rows) * H_), A_log_.grad,
                  dt_bias_.grad, B, T, H_, gate_partials_);

  // conv (or plain SiLU) backward, then the projections: dx written by the first, added by the rest
  const DeviceParam* projections[3] = {&q_proj_, &k_proj_, &v_proj_};
  for (int i = 0; i < 3; ++i) {
    float* dp = dproj_[i].resize(dconv_[i].size());
    if (conv_[i])
      conv_[i]->backward(dconv_[i].data(), dp);
    else
      silu_backward(ctx_, proj_[i].data<A>(), dconv_[i].data(), dp, dconv_[i].size());
    linear_backward(ctx_, x_, dp, projections[i]->operand(ctx_), projections[i]->grad, dx, rows, D_, widths[i],
                    i == 0 ? 0.f : 1.f);
  }
  auto project_back = [&](const DeviceParam& w, const float* dout, int width) {
    linear_backward(ctx_, x_, dout, w.operand(ctx_), w.grad, dx, rows, D_, width, 1.f);
  };
  if (b_proj_.value) project_back(b_proj_, dbp_.data(), nh_ * H_);
  if (a_proj_.value) project_back(a_proj_, dap_.data(), H_);
  if (g_proj_.value) project_back(g_proj_, d_gp_.data(), HV);
}

}  // namespace db::cuda
