// model.h: the language model every experiment trains.
//
//   tokens [B,T] -> embedding (+ learned positions) -> blocks -> final norm -> head + loss
//   (backbone "autoencoder", MAD compression: the final norm is a CompressionDecoder that rebuilds
//   every position from the last one; see models/backbones/compression_decoder.h)
//
// layout "block" (fla, Zoology): layer i is  h = x + mixer_i(norm(x));  h + mlp(norm(h)) (MLP
// optional: Zoology's MQAR models have none). layout "alternate" (MAD): layers alternate mixer
// blocks and MLP blocks, [mixer, mlp, mixer, mlp], each x + f(norm(x)). A list of several mixers
// is cycled over the mixer layers (hybrids such as DeltaNet + sliding-window attention).
// Parameter names are flash-linear-attention's (model.layers.{i}.attn.q_proj.weight, ...), so a
// checkpoint written here loads there. The head and loss run only at labelled positions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/options.h"
#include "models/core/module.h"
#include "models/core/params.h"
#include "models/core/registry.h"
#include "models/layers/lm_head_loss.h"

namespace db {

class Embedding;
class PositionEmbedding;

struct ModelConfig {
  int vocab_size = 0;    // N
  int max_seq_len = 0;   // longest input (learned position table size)
  int d_model = 128;     // D
  int n_layers = 2;
  std::string layout = "block";  // block | alternate
  std::string mlp = "swiglu";    // swiglu | none
  int mlp_hidden = 0;            // 0 = fla's rule
  std::string norm = "rmsnorm";  // rmsnorm | layernorm
  double norm_eps = 1e-6;
  std::string position = "none";  // none | learned
  // lm: head on the final norm at every position; autoencoder: MAD's compression backbone, the
  // final norm replaced by a decoder that rebuilds every position from the last one
  std::string backbone = "lm";
  bool tie_embeddings = false;
  bool head_bias = false;
  double init_std = 0.02;
  std::vector<MixerSpec> mixers;  // at least one

  // from the validated model.* options (harness/config/config_schema.cpp) and the mixer list
  static ModelConfig from_options(const Options& model, const std::vector<MixerSpec>& mixers, int vocab_size,
                                  int max_seq_len);
};

struct LossResult {
  double loss_sum = 0.0;  // summed cross-entropy over labelled positions
  int64_t count = 0;      // labelled positions
};

class Model {
 public:
  explicit Model(const ModelConfig& config);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return config_; }
  ParamArena& params() { return arena_; }
  const ParamArena& params() const { return arena_; }
  // deterministic initialisation from a seed (fla's scheme: N(0, init_std), norms 1, gates special)
  void initialize(uint64_t seed);
  int64_t num_params() const { return static_cast<int64_t>(arena_.size()); }
  // sum of the mixers' reported state sizes at this sequence length (Zoology's state_size)
  int64_t reported_state_size(int seq_len) const;

  // tokens [B,T], targets [B,T] (IGNORE = no loss). predictions [B,T] (optional) gets the argmax
  // at labelled positions and -1 elsewhere. With need_grad, backward() may follow.
  LossResult forward_loss(const int32_t* tokens, const int32_t* targets, int B, int T, bool need_grad,
                          int32_t* predictions);
  // gradient of the MEAN loss over the labelled positions of the last forward_loss; adds into grads
  void backward();
  // logits at every position: tokens [B,T] -> logits [B,T,N]
  void forward_logits(const int32_t* tokens, int B, int T, real* logits);

 private:
  struct Layer;
  // embedding -> blocks -> final norm; fills final_ [B*T, D]
  void forward_trunk(const int32_t* tokens, int B, int T);

  ModelConfig config_;
  ParamArena arena_;
  std::unique_ptr<Embedding> embedding_;
  std::unique_ptr<PositionEmbedding> position_;  // null unless position: learned
  Param head_weight_, head_bias_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::unique_ptr<Module> final_norm_;  // the final norm, or the compression decoder (autoencoder)
  LmHeadLoss head_;

  int B_ = 0, T_ = 0;
  std::vector<RealVector> acts_;  // residual stream before each layer: [n_layers + 1][B*T*D]
  RealVector final_;              // [B*T, D] after the final norm
  std::vector<int64_t> labelled_;        // [M] flat positions with a target
  RealVector gathered_;           // [M, D]
  std::vector<int32_t> gathered_targets_, gathered_argmax_;  // [M]
  int64_t loss_count_ = 0;
  RealVector grad_a_, grad_b_, scratch_;  // [B*T*D] work buffers
};

}  // namespace db
