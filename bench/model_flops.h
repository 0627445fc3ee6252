// model_flops.h: the FLOP counts and the reference model the training-step benchmarks share.
//
// The MQAR reference model of the issues: fla-style scaffold, 2 layers, 2 heads, short conv 4,
// RMSNorm, SwiGLU MLP, untied head, vocabulary 8192. Model FLOPs per token = 6 x (weights used in
// matmuls) + the mixer kernel's FLOPs (forward 1x, backward 2x of the chunk kernel's count in
// models/kernels), attention 12 T D per token.
#pragma once

#include <algorithm>
#include <string>

#include "models/backbones/model.h"
#include "models/core/registry.h"
#include "models/kernels/gated_delta_rule.h"

namespace db::bench {

// the reference's two heads, for the mixers that have heads (Mamba, RWKV-4 and the convolutions do not)
inline OptionOverrides reference_mixer_options(const std::string& mixer) {
  const MixerEntry* entry = find_mixer(mixer);
  const bool has_heads = entry && std::any_of(entry->options.begin(), entry->options.end(),
                                              [](const OptionSpec& s) { return s.key == "num_heads"; });
  if (!has_heads) return {};
  return {{"num_heads", int64_t{2}}};
}

inline ModelConfig reference_config(const std::string& mixer, int d_model) {
  ModelConfig c;
  c.vocab_size = 8192;
  c.max_seq_len = 2048;
  c.d_model = d_model;
  c.n_layers = 2;
  c.mixers = {{mixer, reference_mixer_options(mixer)}};
  return c;
}

// matmul weights touched per token (each used in forward, and twice in backward: 6 FLOPs per weight)
inline double matmul_weights(const Model& m) {
  double n = 0;
  for (const auto& p : m.params().params())
    if (p.shape.size() == 2 && p.name.find("embeddings") == std::string::npos) n += double(p.size);
  return n;
}

inline double kernel_flops_per_token(const std::string& mixer, int T, int H, int K, int n_h) {
  if (mixer == "softmax_attention") return 3.0 * 4.0 * T * H * K / 2.0;  // causal QK^T and PV, fwd + 2x bwd
  // delta family: the chunk kernel count (linear attention is cheaper; this is an upper bound)
  return 3.0 * gated_delta_rule_chunk_flops(T, K, K, n_h, 64, false) * H / T;
}

// forward + backward FLOPs per token of a training step of `model` at length T
inline double step_flops_per_token(const Model& model, const std::string& mixer, int T) {
  const int H = 2, K = model.config().d_model / H;
  const int n_h = mixer == "deltaproduct" ? 2 : 1;
  return 6.0 * matmul_weights(model) + model.config().n_layers * kernel_flops_per_token(mixer, T, H, K, n_h);
}

}  // namespace db::bench
