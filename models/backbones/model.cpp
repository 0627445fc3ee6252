// model.cpp: embedding -> blocks -> norm -> head + loss, forward and backward (see model.h).
#include "models/backbones/model.h"

#include <fmt/format.h>

#include <stdexcept>

#include "common/ignore_index.h"
#include "models/backbones/compression_decoder.h"
#include "models/layers/embedding.h"
#include "models/layers/layernorm.h"
#include "models/layers/position_embedding.h"
#include "models/layers/rmsnorm.h"
#include "models/layers/swiglu_mlp.h"
#include "models/numerics/parallel.h"

namespace db {

// one residual layer: x + body(norm(x)), and in the "block" layout a second half x + mlp(norm(x))
struct Model::Layer {
  std::unique_ptr<Module> norm, body;          // attn_norm + mixer, or mlp_norm + mlp (alternate layout)
  std::unique_ptr<Module> mlp_norm, mlp;       // block layout only; null when model.mlp = none
  Mixer* mixer = nullptr;                      // body as a mixer, when it is one
  RealVector normed, body_out, mid;     // [B*T, D] caches: norm(x), body output, x + body
  RealVector normed2, mlp_out;          // [B*T, D]
};

ModelConfig ModelConfig::from_options(const Options& m, const std::vector<MixerSpec>& mixers, int vocab_size,
                                      int max_seq_len) {
  ModelConfig c;
  c.vocab_size = vocab_size;
  c.max_seq_len = max_seq_len;
  c.d_model = static_cast<int>(m.get_int("d_model"));
  c.n_layers = static_cast<int>(m.get_int("n_layers"));
  c.layout = m.get_string("layout");
  c.mlp = m.get_string("mlp");
  c.mlp_hidden = static_cast<int>(m.get_int("mlp_hidden"));
  c.norm = m.get_string("norm");
  c.norm_eps = m.get_double("norm_eps");
  c.position = m.get_string("position");
  c.tie_embeddings = m.get_bool("tie_embeddings");
  c.head_bias = m.get_bool("head_bias");
  c.init_std = m.get_double("init_std");
  c.mixers = mixers;
  c.backbone = m.get_string("backbone");
  // the values were checked where the config was read (harness/config/config_checks.cpp)
  if (mixers.empty()) throw std::logic_error("ModelConfig: no mixer");
  return c;
}

namespace {
std::unique_ptr<Module> make_norm(const ModelConfig& c, ParamArena& arena, const std::string& name) {
  if (c.norm == "layernorm") return std::make_unique<LayerNorm>(arena, name, c.d_model, c.norm_eps);
  return std::make_unique<RMSNorm>(arena, name, c.d_model, c.norm_eps);
}
int mlp_hidden(const ModelConfig& c) { return c.mlp_hidden > 0 ? c.mlp_hidden : swiglu_hidden_size(c.d_model); }
}  // namespace

Model::Model(const ModelConfig& c) : config_(c) {
  if (c.vocab_size < 1) throw std::logic_error("Model: vocab_size must be set");
  const int D = c.d_model;
  {
    ParamArena::Scope model(arena_, "model");
    embedding_ = std::make_unique<Embedding>(arena_, "embeddings", c.vocab_size, D, c.init_std);
    if (c.position == "learned")
      position_ = std::make_unique<PositionEmbedding>(arena_, "position_embeddings", c.max_seq_len, D, c.init_std);
    int mixer_index = 0;
    for (int i = 0; i < c.n_layers; ++i) {
      ParamArena::Scope layer(arena_, fmt::format("layers.{}", i));
      auto L = std::make_unique<Layer>();
      const bool is_mixer_layer = c.layout == "block" || i % 2 == 0;
      if (is_mixer_layer) {
        L->norm = make_norm(c, arena_, "attn_norm");
        const MixerSpec& spec = c.mixers[mixer_index++ % c.mixers.size()];
        ParamArena::Scope attn(arena_, "attn");
        auto mixer = create_mixer(spec.name, D, spec.options, arena_);
        L->mixer = mixer.get();
        L->body = std::move(mixer);
      } else {
        L->norm = make_norm(c, arena_, "mlp_norm");
        L->body = std::make_unique<SwiGLUMLP>(arena_, "mlp", D, mlp_hidden(c), c.init_std);
      }
      if (c.layout == "block" && c.mlp == "swiglu") {
        L->mlp_norm = make_norm(c, arena_, "mlp_norm");
        L->mlp = std::make_unique<SwiGLUMLP>(arena_, "mlp", D, mlp_hidden(c), c.init_std);
      }
      layers_.push_back(std::move(L));
    }
    if (c.backbone == "autoencoder")
      final_norm_ = std::make_unique<CompressionDecoder>(arena_, "decoder", D, c.norm == "layernorm", c.norm_eps,
                                                         c.init_std);
    else
      final_norm_ = make_norm(c, arena_, "norm");
  }
  if (c.tie_embeddings)
    head_weight_ = embedding_->weight;
  else
    head_weight_ = arena_.add("lm_head.weight", {c.vocab_size, D}, ParamInit::normal(c.init_std));
  if (c.head_bias) head_bias_ = arena_.add("lm_head.bias", {c.vocab_size}, ParamInit::zeros(), false);
  arena_.allocate();
}

Model::~Model() = default;

void Model::initialize(uint64_t seed) {
  Rng rng(seed);
  arena_.initialize(rng);
}

int64_t Model::reported_state_size(int seq_len) const {
  int64_t total = 0;
  for (const auto& L : layers_)
    if (L->mixer) total += L->mixer->reported_state_size(seq_len);
  return total;
}

namespace {

// out[n] = a[n] + b[n], element-wise, so any split over threads gives the same bits; the residual
// stream's adds touch the whole [B*T, D] activation, too much to leave on one thread of 16
void add_residual(const real* a, const real* b, real* out, size_t n) {
  parallel_blocks(static_cast<Index>(n), 16384, static_cast<Index>(n), [&](Index i0, Index i1) {
    for (Index j = i0; j < i1; ++j) out[j] = a[j] + b[j];
  });
}

// rows[m] of src [*, D] -> dst [M, D] (gather) or back (scatter), over rows in parallel
template <class Copy>
void for_each_labelled_row(const std::vector<int64_t>& rows, Copy&& copy) {
  parallel_blocks(static_cast<Index>(rows.size()), 256, static_cast<Index>(rows.size()) * 64, [&](Index m0, Index m1) {
    for (Index m = m0; m < m1; ++m) copy(m, rows[m]);
  });
}

}  // namespace

void Model::forward_trunk(const int32_t* tokens, int B, int T) {
  const int D = config_.d_model;
  const size_t n = size_t(B) * T * D;
  B_ = B, T_ = T;
  acts_.resize(layers_.size() + 1);
  for (auto& a : acts_) a.resize(n);

  real* x = acts_[0].data();
  embedding_->forward(tokens, x, B, T);  // throws std::out_of_range for an id outside the vocabulary
  if (position_) position_->forward(x, x, B, T);  // likewise for T beyond the position table

  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& L = *layers_[i];
    const real* in = acts_[i].data();
    real* out = acts_[i + 1].data();
    L.normed.resize(n), L.body_out.resize(n), L.mid.resize(n);
    L.norm->forward(in, L.normed.data(), B, T);
    L.body->forward(L.normed.data(), L.body_out.data(), B, T);
    real* mid = L.mlp ? L.mid.data() : out;
    add_residual(in, L.body_out.data(), mid, n);
    if (L.mlp) {
      L.normed2.resize(n), L.mlp_out.resize(n);
      L.mlp_norm->forward(mid, L.normed2.data(), B, T);
      L.mlp->forward(L.normed2.data(), L.mlp_out.data(), B, T);
      add_residual(mid, L.mlp_out.data(), out, n);
    }
  }
  final_.resize(n);
  final_norm_->forward(acts_.back().data(), final_.data(), B, T);
}

LossResult Model::forward_loss(const int32_t* tokens, const int32_t* targets, int B, int T, bool need_grad,
                               int32_t* predictions) {
  forward_trunk(tokens, B, T);
  const int D = config_.d_model, N = config_.vocab_size;
  labelled_.clear();
  gathered_targets_.clear();
  for (int64_t r = 0; r < int64_t(B) * T; ++r)
    if (targets[r] != IGNORE) {
      if (targets[r] < 0 || targets[r] >= N)
        throw std::out_of_range(fmt::format("target id {} outside the vocabulary [0, {})", targets[r], N));
      labelled_.push_back(r);
      gathered_targets_.push_back(targets[r]);
    }
  const int64_t M = static_cast<int64_t>(labelled_.size());
  gathered_.resize(size_t(M) * D);
  gathered_argmax_.resize(M);
  for_each_labelled_row(labelled_, [&](Index m, int64_t row) {
    std::copy_n(final_.data() + row * D, D, gathered_.data() + m * D);
  });
  loss_count_ = M;
  LossResult result;
  result.count = M;
  if (M > 0)
    result.loss_sum = head_.forward(gathered_.data(), M, D, head_weight_.data(),
                                    head_bias_.valid() ? head_bias_.data() : nullptr, N, gathered_targets_.data(),
                                    gathered_argmax_.data(), need_grad ? real(1.0 / M) : real(0));
  if (predictions) {
    std::fill(predictions, predictions + size_t(B) * T, -1);
    for (int64_t m = 0; m < M; ++m) predictions[labelled_[m]] = gathered_argmax_[m];
  }
  return result;
}

void Model::backward() {
  const int B = B_, T = T_, D = config_.d_model;
  const size_t n = size_t(B) * T * D;
  grad_a_.assign(n, real(0));
  grad_b_.resize(n), scratch_.resize(n);
  if (loss_count_ > 0) {
    const real* dh = head_.backward(head_weight_.grad(), head_bias_.valid() ? head_bias_.grad() : nullptr);
    for_each_labelled_row(labelled_, [&](Index m, int64_t row) {
      std::copy_n(dh + m * D, D, grad_a_.data() + row * D);
    });
  }
  // grad_a_ holds d(final norm output); turn it into d(residual stream)
  final_norm_->backward(grad_a_.data(), grad_b_.data());
  std::swap(grad_a_, grad_b_);  // grad_a_ = d(output of the last layer)

  for (size_t i = layers_.size(); i-- > 0;) {
    Layer& L = *layers_[i];
    // grad_a_: d(layer output). For the block layout: out = mid + mlp(norm2(mid))
    if (L.mlp) {
      L.mlp->backward(grad_a_.data(), scratch_.data());
      L.mlp_norm->backward(scratch_.data(), grad_b_.data());
      add_residual(grad_a_.data(), grad_b_.data(), grad_a_.data(), n);  // d(mid)
    }
    // mid = in + body(norm(in))
    L.body->backward(grad_a_.data(), scratch_.data());
    L.norm->backward(scratch_.data(), grad_b_.data());
    add_residual(grad_a_.data(), grad_b_.data(), grad_a_.data(), n);  // d(in)
  }
  if (position_) position_->backward(grad_a_.data(), grad_a_.data());
  embedding_->backward(grad_a_.data());
}

void Model::forward_logits(const int32_t* tokens, int B, int T, real* logits) {
  forward_trunk(tokens, B, T);
  LmHeadLoss::logits(final_.data(), int64_t(B) * T, config_.d_model, head_weight_.data(),
                     head_bias_.valid() ? head_bias_.data() : nullptr, config_.vocab_size, logits);
}

}  // namespace db
