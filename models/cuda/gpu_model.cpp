// gpu_model.cpp: the whole model on the GPU, the device twin of models/backbones/model.cpp.
#include "models/cuda/gpu_model.h"

#include <fmt/format.h>

#include <stdexcept>

#include "models/backbones/cuda/gpu_compression_decoder.h"
#include "models/cuda/bf16.h"
#include "models/cuda/elementwise.h"
#include "models/layers/cuda/embedding.h"
#include "models/layers/cuda/gpu_lm_head_loss.h"
#include "models/layers/cuda/gpu_norms.h"
#include "models/layers/cuda/gpu_swiglu_mlp.h"
#include "models/layers/cuda/lm_head_loss.h"
#include "models/layers/swiglu_mlp.h"

namespace db::cuda {

// one residual layer, as Model::Layer: x + body(norm(x)), then (block layout) + mlp(norm(.))
struct GpuModel::Layer {
  std::unique_ptr<GpuModule> norm, body, mlp_norm, mlp;
  DeviceBuffer<float> normed, body_out, mid, normed2, mlp_out;  // [B*T, D]
};

namespace {

std::unique_ptr<GpuModule> make_norm(const Context& ctx, const ModelConfig& c, const ParamScope& scope) {
  if (c.norm == "layernorm") return std::make_unique<GpuLayerNorm>(ctx, scope, c.d_model, c.norm_eps);
  return std::make_unique<GpuRMSNorm>(ctx, scope, c.d_model, c.norm_eps);
}

}  // namespace

GpuModel::GpuModel(const Context& ctx, const Model& host, DeviceParams& params)
    : ctx_(ctx), config_(host.config()), params_(params) {
  const ModelConfig& c = config_;
  if (c.backbone != "lm" && c.backbone != "autoencoder")
    throw std::invalid_argument(fmt::format("GpuModel: backbone '{}' has no CUDA implementation", c.backbone));
  const int D = c.d_model;
  const int hidden = c.mlp_hidden > 0 ? c.mlp_hidden : swiglu_hidden_size(D);
  const ParamScope model(params, "model");
  embedding_ = model("embeddings.weight");
  if (c.position == "learned") position_ = model("position_embeddings.weight");
  int mixer_index = 0;
  for (int i = 0; i < c.n_layers; ++i) {
    const ParamScope scope = model.sub(fmt::format("layers.{}", i));
    auto L = std::make_unique<Layer>();
    if (c.layout == "block" || i % 2 == 0) {
      L->norm = make_norm(ctx, c, scope.sub("attn_norm"));
      const MixerSpec& spec = c.mixers[mixer_index++ % c.mixers.size()];
      const GpuMixerEntry* gpu = find_gpu_mixer(spec.name);
      const MixerEntry* cpu = find_mixer(spec.name);
      if (!gpu || !cpu)
        throw std::invalid_argument(fmt::format("GpuModel: mixer '{}' has no CUDA implementation", spec.name));
      L->body = gpu->create(ctx, D, Options::resolve(cpu->options, spec.options), scope.sub("attn"));
    } else {
      L->norm = make_norm(ctx, c, scope.sub("mlp_norm"));
      L->body = std::make_unique<GpuSwiGLUMLP>(ctx, scope.sub("mlp"), D, hidden);
    }
    if (c.layout == "block" && c.mlp == "swiglu") {
      L->mlp_norm = make_norm(ctx, c, scope.sub("mlp_norm"));
      L->mlp = std::make_unique<GpuSwiGLUMLP>(ctx, scope.sub("mlp"), D, hidden);
    }
    layers_.push_back(std::move(L));
  }
  if (c.backbone == "autoencoder")
    final_norm_ = std::make_unique<GpuCompressionDecoder>(ctx, model.sub("decoder"), D, c.norm == "layernorm",
                                                          c.norm_eps);
  else
    final_norm_ = make_norm(ctx, c, model.sub("norm"));
  head_weight_ = c.tie_embeddings ? embedding_ : params["lm_head.weight"];
  if (c.head_bias) head_bias_ = params["lm_head.bias"];
  head_ = std::make_unique<GpuLmHeadLoss>(ctx);
}

GpuModel::~GpuModel() = default;

void GpuModel::forward_trunk(const int32_t* tokens, int B, int T) {
  const int D = config_.d_model;
  const size_t n = size_t(B) * T * D;
  B_ = B, T_ = T, tokens_ = tokens;
  params_.refresh_bf16_copy();  // the weights' GEMM operands, after whatever changed the values
  acts_.resize(layers_.size() + 1);
  for (auto& a : acts_) a.resize(n);

  float* x = acts_[0].data();
  embedding_forward(ctx_, tokens, embedding_.value, x, B * T, D);
  if (position_.value) position_embedding_forward(ctx_, x, position_.value, x, B, T, D, 0, config_.max_seq_len);

  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& L = *layers_[i];
    const float* in = acts_[i].data();
    float* out = acts_[i + 1].data();
    L.norm->forward(in, L.normed.resize(n), B, T);
    L.body->forward(L.normed.data(), L.body_out.resize(n), B, T);
    float* mid = L.mlp ? L.mid.resize(n) : out;
    add(ctx_, in, L.body_out.data(), mid, n);
    if (L.mlp) {
      L.mlp_norm->forward(mid, L.normed2.resize(n), B, T);
      L.mlp->forward(L.normed2.data(), L.mlp_out.resize(n), B, T);
      add(ctx_, mid, L.mlp_out.data(), out, n);
    }
  }
  final_norm_->forward(acts_.back().data(), final_.resize(n), B, T);
}

void GpuModel::forward_loss(const int32_t* tokens, int B, int T, const int32_t* labelled, const int32_t* targets,
                            int M, bool need_grad) {
  forward_trunk(tokens, B, T);
  const int D = config_.d_model;
  M_ = M, labelled_ = labelled;
  argmax_.resize(M);
  with_activation_type(ctx_, [&](auto type) {
    using A = decltype(type);
    A* gathered = gathered_.resize<A>(size_t(M) * D);
    gather_rows(ctx_, final_.data(), labelled, M, D, gathered);
    head_->forward(static_cast<const A*>(gathered), M, D, head_weight_.operand(ctx_), head_bias_.value,
                   config_.vocab_size, targets, argmax_.data(), need_grad && M > 0 ? 1.f / static_cast<float>(M) : 0.f);
  });
}

void GpuModel::forward_logits(const int32_t* tokens, int B, int T, float* logits) {
  forward_trunk(tokens, B, T);
  GpuLmHeadLoss::logits(ctx_, final_.data(), int64_t(B) * T, config_.d_model, head_weight_.operand(ctx_),
                        head_bias_.value, config_.vocab_size, logits);
}

const double* GpuModel::loss_sum() const { return head_->loss_sum_device(); }

void GpuModel::backward() {
  const int B = B_, T = T_, D = config_.d_model;
  const size_t n = size_t(B) * T * D;
  grad_a_.resize(n), grad_b_.resize(n), scratch_.resize(n);
  grad_a_.zero(ctx_.stream());
  if (M_ > 0) {
    const float* dh = head_->backward(head_weight_.grad, head_bias_.grad);
    scatter_rows(ctx_, dh, labelled_, M_, D, grad_a_.data());
  }
  final_norm_->backward(grad_a_.data(), grad_b_.data());
  std::swap(grad_a_, grad_b_);  // grad_a_ = d(output of the last layer)

  for (size_t i = layers_.size(); i-- > 0;) {
    Layer& L = *layers_[i];
    if (L.mlp) {
      L.mlp->backward(grad_a_.data(), scratch_.data());
      L.mlp_norm->backward(scratch_.data(), grad_b_.data());
      add(ctx_, grad_a_.data(), grad_b_.data(), grad_a_.data(), n);  // d(mid)
    }
    L.body->backward(grad_a_.data(), scratch_.data());
    L.norm->backward(scratch_.data(), grad_b_.data());
    add(ctx_, grad_a_.data(), grad_b_.data(), grad_a_.data(), n);  // d(in)
  }
  if (position_.value) position_embedding_backward(ctx_, grad_a_.data(), grad_a_.data(), position_.grad, B, T, D, 0);
  embedding_backward(ctx_, tokens_, grad_a_.data(), embedding_.grad, B * T, config_.vocab_size, D, embedding_scratch_);
}

}  // namespace db::cuda
