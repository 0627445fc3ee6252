// softmax_attention.cpp: causal (optionally windowed) multi-head attention (see the header).
#include "models/mixers/softmax_attention.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace db {

SoftmaxAttentionMixer::SoftmaxAttentionMixer(int d_model, const Options& o, ParamArena& arena)
    : D_(d_model), H_(static_cast<int>(o.get_int("num_heads"))), window_(static_cast<int>(o.get_int("window"))) {
  if (H_ < 1 || d_model % H_ != 0)
    throw ConfigError("num_heads", fmt::format("d_model {} must be divisible by num_heads {}", d_model, H_));
  if (window_ < 0) throw ConfigError("window", "'window' must be >= 0 (0 = full attention)");
  K_ = d_model / H_;
  const double std = 0.02;
  q_proj_ = std::make_unique<Linear>(arena, "q_proj", D_, H_ * K_, false, std);
  k_proj_ = std::make_unique<Linear>(arena, "k_proj", D_, H_ * K_, false, std);
  v_proj_ = std::make_unique<Linear>(arena, "v_proj", D_, H_ * K_, false, std);
  o_proj_ = std::make_unique<Linear>(arena, "o_proj", H_ * K_, D_, false, std);
  if (o.get_bool("rope")) {
    if (K_ % 2) throw ConfigError("rope", "RoPE needs an even head dimension");
    rope_ = std::make_unique<Rope>(K_, o.get_double("rope_base"));
  }
}

Index SoftmaxAttentionMixer::head_offset(int bh) const {
  // head h of batch row b: columns [h*K, (h+1)*K) of the [B*T, H*K] buffers, from row b*T
  return Index(bh / H_) * T_ * H_ * K_ + Index(bh % H_) * K_;
}

int64_t SoftmaxAttentionMixer::reported_state_size(int seq_len) const {
  const int kept = window_ > 0 ? std::min(seq_len, window_) : seq_len;
  return int64_t{2} * kept * D_;
}

void SoftmaxAttentionMixer::forward_stateful(const real* x, real* y, int B, int T, const real* state_in,
                                             real* state_out) {
  if (state_in || state_out) throw std::logic_error("softmax_attention cannot carry a fixed-size state");
  B_ = B, T_ = T;
  const Index rows = Index(B) * T;
  const int HK = H_ * K_;
  x_.assign(x, x + rows * D_);
  q_.resize(rows * HK), k_.resize(rows * HK), v_.resize(rows * HK), att_.resize(rows * HK);
  q_proj_->apply(x, q_.data(), rows);
  k_proj_->apply(x, k_.data(), rows);
  v_proj_->apply(x, v_.data(), rows);
  if (rope_) {
    rope_->forward(q_.data(), B, T, H_);
    rope_->forward(k_.data(), B, T, H_);
  }
  probs_.resize(size_t(B) * H_ * T * T);  // every entry is written below
  const real scale = static_cast<real>(1.0 / std::sqrt(static_cast<double>(K_)));

#pragma omp parallel for schedule(static) if (int64_t(B) * H_ * T * T * K_ >= (int64_t(1) << 16))
  for (int bh = 0; bh < B * H_; ++bh) {
    const Index off = head_offset(bh);
    auto Q = as_matrix(q_.data() + off, T, K_, HK);
    auto Kt = as_matrix(k_.data() + off, T, K_, HK);
    auto Vt = as_matrix(v_.data() + off, T, K_, HK);
    MatMap P(probs_.data() + size_t(bh) * T * T, T, T);
    P.noalias() = scale * (Q * Kt.transpose());
    for (int t = 0; t < T; ++t) {
      // the keys row t sees are [first, t]; the rest of the row is masked to probability 0
      const int first = window_ > 0 ? std::max(0, t - window_ + 1) : 0;
      auto row = P.row(t);
      auto seen = row.segment(first, t - first + 1).array();
      seen = (seen - seen.maxCoeff()).exp();  // Eigen's vectorised exp
      seen /= seen.sum();
      row.head(first).setZero();
      row.tail(T - 1 - t).setZero();
    }
    as_matrix(att_.data() + off, T, K_, HK).noalias() = P * Vt;
  }
  o_proj_->apply(att_.data(), y, rows);
}

void SoftmaxAttentionMixer::backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) {
  const int B = B_, T = T_, HK = H_ * K_;
  const Index rows = Index(B) * T;
  datt_.resize(rows * HK), dq_.resize(rows * HK), dk_.resize(rows * HK), dv_.resize(rows * HK);
  dscore_.resize(size_t(B) * H_ * T * T);
  o_proj_->apply_backward(att_.data(), dy, datt_.data(), rows, false);
  const real scale = static_cast<real>(1.0 / std::sqrt(static_cast<double>(K_)));

#pragma omp parallel for schedule(static) if (int64_t(B) * H_ * T * T * K_ >= (int64_t(1) << 16))
  for (int bh = 0; bh < B * H_; ++bh) {
    const Index off = head_offset(bh);
    auto Q = as_matrix(q_.data() + off, T, K_, HK);
    auto Kt = as_matrix(k_.data() + off, T, K_, HK);
    auto Vt = as_matrix(v_.data() + off, T, K_, HK);
    auto dO = as_matrix(datt_.data() + off, T, K_, HK);
    ConstMatMap P(probs_.data() + size_t(bh) * T * T, T, T);
    MatMap dS(dscore_.data() + size_t(bh) * T * T, T, T);
    as_matrix(dv_.data() + off, T, K_, HK).noalias() = P.transpose() * dO;
    dS.noalias() = dO * Vt.transpose();  // dP
    // softmax backward row by row: dS = P o (dP - <dP, P>), masked entries have P = 0
    for (int t = 0; t < T; ++t) {
      const real dot = dS.row(t).dot(P.row(t));
      dS.row(t) = (P.row(t).array() * (dS.row(t).array() - dot)).matrix() * scale;
    }
    as_matrix(dq_.data() + off, T, K_, HK).noalias() = dS * Kt;
    as_matrix(dk_.data() + off, T, K_, HK).noalias() = dS.transpose() * Q;
  }
  if (rope_) {
    rope_->backward(dq_.data(), B, T, H_);
    rope_->backward(dk_.data(), B, T, H_);
  }
  q_proj_->apply_backward(x_.data(), dq_.data(), dx, rows, false);
  k_proj_->apply_backward(x_.data(), dk_.data(), dx, rows, true);
  v_proj_->apply_backward(x_.data(), dv_.data(), dx, rows, true);
}

const MixerEntry softmax_attention_mixer_entry{
    "softmax_attention",
    "causal multi-head softmax attention; optional sliding window and RoPE",
    {
        {"num_heads", int64_t{1}, "heads H (head dim = d_model / H)"},
        {"window", int64_t{0}, "sliding window: each query sees the last `window` keys; 0 = full causal"},
        {"rope", false, "rotary position embedding on q and k"},
        {"rope_base", 10000.0, "RoPE base"},
    },
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<SoftmaxAttentionMixer>(d_model, o, a);
    },
    {
        {},
        {{"num_heads", int64_t{2}}, {"window", int64_t{3}}, {"rope", true}},
    },
};

}  // namespace db
