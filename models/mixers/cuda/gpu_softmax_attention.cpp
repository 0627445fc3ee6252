// gpu_softmax_attention.cpp: the CUDA half of softmax attention (models/mixers/softmax_attention.h).
//
// The CPU mixer's maths on the device: q, k, v projections, RoPE on q and k, per (batch, head) the
// scaled scores q k^T into the [B*H, T, T] probabilities buffer, the masked softmax in place, P v,
// o_proj; the backward mirrors it. The per-head products are strided-batched GEMMs over the
// [B*T, H*K] buffers directly: head h of batch row b starts at b*T*H*K + h*K, which is no single
// stride over (b, h), so the B*H products are issued as one batched call per head (over the batch
// rows) or one per batch row (over the heads), whichever needs fewer calls. In a bf16 run (bf16.h)
// the projections' inputs, x and the attention output, are kept in bf16 and the projections use bf16
// operands; q, k, v, the probabilities and their products stay fp32.
#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "models/cuda/bf16.h"
#include "models/cuda/blas.h"
#include "models/cuda/gpu_module.h"
#include "models/layers/cuda/rope.h"
#include "models/mixers/cuda/softmax_attention.h"

namespace db::cuda {

namespace {

class GpuSoftmaxAttention : public GpuModule {
 public:
  GpuSoftmaxAttention(const Context& ctx, int d_model, const Options& o, const ParamScope& params)
      : ctx_(ctx),
        D_(d_model),
        H_(static_cast<int>(o.get_int("num_heads"))),
        window_(static_cast<int>(o.get_int("window"))) {
    // the CPU mixer's checks (it has normally refused these already)
    if (H_ < 1 || d_model % H_ != 0)
      throw ConfigError("num_heads", fmt::format("d_model {} must be divisible by num_heads {}", d_model, H_));
    if (window_ < 0) throw ConfigError("window", "'window' must be >= 0 (0 = full attention)");
    K_ = d_model / H_;
    if (o.get_bool("rope")) {
      if (K_ % 2) throw ConfigError("rope", "RoPE needs an even head dimension");
      rotary_.emplace(K_, o.get_double("rope_base"));
    }
    const size_t HK = static_cast<size_t>(H_) * K_;
    wq_ = weight(params, "q_proj.weight", HK * D_);
    wk_ = weight(params, "k_proj.weight", HK * D_);
    wv_ = weight(params, "v_proj.weight", HK * D_);
    wo_ = weight(params, "o_proj.weight", HK * D_);
  }

  void forward(const float* x, float* y, int B, int T) override {
    B_ = B, T_ = T;
    const int rows = B * T, HK = H_ * K_;
    const size_t n = static_cast<size_t>(rows) * HK;
    if (rows == 0) return;
    with_activation_type(ctx_, [&](auto type) {
      using A = decltype(type);
      A* kept = x_.resize<A>(static_cast<size_t>(rows) * D_);
      store_activation(ctx_, x, kept, static_cast<size_t>(rows) * D_);
      x_in_ = static_cast<const A*>(kept);
    });
    float* q = q_.resize(n);
    float* k = k_.resize(n);
    float* v = v_.resize(n);
    float* att = att_.resize(n);
    linear_forward(ctx_, x_in_, wq_.operand(ctx_), q, rows, D_, HK);
    linear_forward(ctx_, x_in_, wk_.operand(ctx_), k, rows, D_, HK);
    linear_forward(ctx_, x_in_, wv_.operand(ctx_), v, rows, D_, HK);
    if (rotary_) {
      rotary_->forward(ctx_, q, B, T, H_);
      rotary_->forward(ctx_, k, B, T, H_);
    }
    float* probs = probs_.resize(static_cast<size_t>(B) * H_ * T * T);
    // scores = scale q k^T, then the masked softmax in place
    for_head_products([&](long long hk0, long long hk_stride, long long tt0, long long tt_stride, int batch) {
      gemm_strided_batched(ctx_, false, true, T, T, K_, scale(), q + hk0, HK, hk_stride, k + hk0, HK, hk_stride, 0.f,
                           probs + tt0, T, tt_stride, batch);
    });
    attention::masked_softmax_forward(ctx_, probs, B * H_, T, window_);
    // att = P v
    for_head_products([&](long long hk0, long long hk_stride, long long tt0, long long tt_stride, int batch) {
      gemm_strided_batched(ctx_, false, false, T, K_, T, 1.f, probs + tt0, T, tt_stride, v + hk0, HK, hk_stride, 0.f,
                           att + hk0, HK, hk_stride, batch);
    });
    att_in_ = att;
    if (ctx_.precision() == Precision::bf16) {
      round_to_bf16(ctx_, att, att_bf16_.resize(n), n);
      att_in_ = static_cast<const bf16*>(att_bf16_.data());
    }
    linear_forward(ctx_, att_in_, wo_.operand(ctx_), y, rows, HK, D_);
  }

  void backward(const float* dy, float* dx) override {
    const int B = B_, T = T_, rows = B * T, HK = H_ * K_;
    const size_t n = static_cast<size_t>(rows) * HK;
    if (rows == 0) return;
    const float* q = q_.data();
    const float* k = k_.data();
    const float* v = v_.data();
    const float* probs = probs_.data();
    float* datt = datt_.resize(n);
    float* dq = dq_.resize(n);
    float* dk = dk_.resize(n);
    float* dv = dv_.resize(n);
    float* dscore = dscore_.resize(static_cast<size_t>(B) * H_ * T * T);
    linear_backward(ctx_, att_in_, dy, wo_.operand(ctx_), wo_.grad, datt, rows, HK, D_);
    // dv = P^T datt; dP = datt v^T
    for_head_products([&](long long hk0, long long hk_stride, long long tt0, long long tt_stride, int batch) {
      gemm_strided_batched(ctx_, true, false, T, K_, T, 1.f, probs + tt0, T, tt_stride, datt + hk0, HK, hk_stride, 0.f,
                           dv + hk0, HK, hk_stride, batch);
      gemm_strided_batched(ctx_, false, true, T, T, K_, 1.f, datt + hk0, HK, hk_stride, v + hk0, HK, hk_stride, 0.f,
                           dscore + tt0, T, tt_stride, batch);
    });
    // dS = scale * P o (dP - <dP, P>)
    attention::masked_softmax_backward(ctx_, probs, dscore, B * H_, T, window_, scale());
    // dq = dS k; dk = dS^T q
    for_head_products([&](long long hk0, long long hk_stride, long long tt0, long long tt_stride, int batch) {
      gemm_strided_batched(ctx_, false, false, T, K_, T, 1.f, dscore + tt0, T, tt_stride, k + hk0, HK, hk_stride, 0.f,
                           dq + hk0, HK, hk_stride, batch);
      gemm_strided_batched(ctx_, true, false, T, K_, T, 1.f, dscore + tt0, T, tt_stride, q + hk0, HK, hk_stride, 0.f,
                           dk + hk0, HK, hk_stride, batch);
    });
    if (rotary_) {
      rotary_->backward(ctx_, dq, B, T, H_);
      rotary_->backward(ctx_, dk, B, T, H_);
    }
    linear_backward(ctx_, x_in_, dq, wq_.operand(ctx_), wq_.grad, dx, rows, D_, HK, 0.f);
    linear_backward(ctx_, x_in_, dk, wk_.operand(ctx_), wk_.grad, dx, rows, D_, HK, 1.f);
    linear_backward(ctx_, x_in_, dv, wv_.operand(ctx_), wv_.grad, dx, rows, D_, HK, 1.f);
  }

 private:
  static DeviceParam weight(const ParamScope& params, const std::string& name, size_t size) {
    DeviceParam p = params(name);
    if (p.size != size)
      throw std::logic_error(
          fmt::format("softmax_attention (cuda): '{}' has {} numbers, expected {}", name, p.size, size));
    return p;
  }

  float scale() const { return static_cast<float>(1.0 / std::sqrt(static_cast<double>(K_))); }

  // f(hk0, hk_stride, tt0, tt_stride, batch) for each strided-batched call covering the B*H
  // (batch, head) products: hk0 / hk_stride locate the head's [T, K] block in the [B*T, H*K]
  // buffers (row stride H*K), tt0 / tt_stride its [T, T] block in the [B*H, T, T] buffers
  template <class F>
  void for_head_products(F&& f) const {
    const long long T = T_, HK = static_cast<long long>(H_) * K_, TT = T * T;
    if (H_ <= B_) {
      for (int h = 0; h < H_; ++h) f(h * static_cast<long long>(K_), T * HK, h * TT, H_ * TT, B_);  // over batch rows
    } else {
      for (int b = 0; b < B_; ++b) f(b * T * HK, static_cast<long long>(K_), b * H_ * TT, TT, H_);  // over heads
    }
  }

  const Context& ctx_;
  int D_, H_, K_ = 0;
  int window_;  // 0 = full causal attention
  std::optional<GpuRope> rotary_;  // with rope: true
  DeviceParam wq_, wk_, wv_, wo_;

  int B_ = 0, T_ = 0;
  ActivationBuffer x_;                       // [B*T, D] the input, as the activation type
  GemmIn x_in_ = static_cast<const float*>(nullptr);    // x_, typed
  GemmIn att_in_ = static_cast<const float*>(nullptr);  // what o_proj reads: att_, or att_bf16_
  DeviceBuffer<bf16> att_bf16_;              // [B*T, H*K] att rounded (bf16 runs)
  DeviceBuffer<float> q_, k_, v_;            // [B*T, H*K] (q, k after RoPE)
  DeviceBuffer<float> probs_;                // [B, H, T, T]
  DeviceBuffer<float> att_;                  // [B*T, H*K] before o_proj
  DeviceBuffer<float> datt_, dq_, dk_, dv_;  // [B*T, H*K]
  DeviceBuffer<float> dscore_;               // [B, H, T, T]
};

}  // namespace

extern const GpuMixerEntry softmax_attention_gpu_mixer_entry;
const GpuMixerEntry softmax_attention_gpu_mixer_entry{
    "softmax_attention",
    [](const Context& ctx, int d_model, const Options& options, const ParamScope& params) {
      return std::make_unique<GpuSoftmaxAttention>(ctx, d_model, options, params);
    },
    {},  // no limits beyond the CPU mixer's
};

}  // namespace db::cuda
