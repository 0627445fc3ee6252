// test_overfit.cpp: every registered mixer's small language model can fit one fixed batch.
//
// The end-to-end check that forward, backward and AdamW work together: a 2-layer model with each
// mixer (default options) trains on a fixed batch of random sequences whose targets are the
// inputs shifted by one, and must cut the loss by at least 90% within a few hundred steps.
// Iterates the registry, so a new mixer is covered with no new test code.
#include <gtest/gtest.h>

#include "common/ignore_index.h"
#include "common/rng.h"
#include "models/backbones/model.h"
#include "models/optim/adamw.h"

namespace db {
namespace {

class Overfit : public ::testing::TestWithParam<const MixerEntry*> {};

struct FitResult {
  double first = 0, last = 0;  // mean loss at the first and the last step
};

// B random sequences of T tokens in [0, N) and their next-token targets (the last position unscored)
struct FixedBatch {
  std::vector<int32_t> tokens, targets;  // [B, T] each
};
FixedBatch random_next_token_batch(int B, int T, int N, uint64_t seed) {
  Rng rng(seed);
  FixedBatch batch{std::vector<int32_t>(B * T), std::vector<int32_t>(B * T)};
  for (auto& t : batch.tokens) t = static_cast<int32_t>(rng.below(N));
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) batch.targets[b * T + t] = t + 1 < T ? batch.tokens[b * T + t + 1] : IGNORE;
  return batch;
}

// 300 AdamW steps (lr 3e-3, no weight decay) on one fixed batch
FitResult fit_fixed_batch(Model& model, const std::vector<int32_t>& tokens, const std::vector<int32_t>& targets,
                          int B, int T) {
  AdamW opt(model.params(), {0.9, 0.999, 1e-8, 0.0});
  FitResult fit;
  for (int step = 0; step < 300; ++step) {
    model.params().zero_grad();
    const LossResult r = model.forward_loss(tokens.data(), targets.data(), B, T, true, nullptr);
    model.backward();
    opt.step(3e-3);
    (step == 0 ? fit.first : fit.last) = r.loss_sum / r.count;
  }
  return fit;
}

TEST_P(Overfit, LossFallsByNinetyPercentOnAFixedBatch) {
  const MixerEntry& entry = *GetParam();
  constexpr int B = 4, T = 24, N = 16;
  ModelConfig c;
  c.vocab_size = N;
  c.max_seq_len = T;
  c.d_model = 32;
  c.n_layers = 2;
  c.mixers = {{entry.name, {}}};
  Model model(c);
  model.initialize(7);

  const FixedBatch batch = random_next_token_batch(B, T, N, 11);
  const FitResult fit = fit_fixed_batch(model, batch.tokens, batch.targets, B, T);
  EXPECT_LT(fit.last, 0.1 * fit.first) << entry.name << ": loss " << fit.first << " -> " << fit.last;
}

// the scaffold's other shapes: a hybrid cycling two mixers, tied embeddings, MAD's alternating
// layout with LayerNorm and a head bias, learned positions
TEST(OverfitScaffold, HybridTiedAlternateAndPositionedModelsFitAFixedBatch) {
  constexpr int B = 4, T = 24, N = 16;
  const FixedBatch batch = random_next_token_batch(B, T, N, 11);
  for (int shape = 0; shape < 3; ++shape) {
    ModelConfig c;
    c.vocab_size = N, c.max_seq_len = T, c.d_model = 32, c.n_layers = 2;
    c.mixers = {{"deltanet", {}}, {"softmax_attention", {{"window", int64_t{8}}}}};
    if (shape == 1) c.tie_embeddings = true, c.mlp = "none";
    if (shape == 2) c.layout = "alternate", c.n_layers = 4, c.norm = "layernorm", c.head_bias = true, c.position = "learned";
    Model model(c);
    model.initialize(7);
    if (shape == 1) {
      EXPECT_EQ(model.params().find("lm_head.weight"), -1);
    }
    if (shape == 2) {
      EXPECT_GE(model.params().find("lm_head.bias"), 0);
    }
    const FitResult fit = fit_fixed_batch(model, batch.tokens, batch.targets, B, T);
    EXPECT_LT(fit.last, 0.1 * fit.first) << "shape " << shape << ": loss " << fit.first << " -> " << fit.last;
  }
}

// MAD's compression backbone: the decoder must rebuild every position of a fixed batch from the
// encoder's last position alone, so the loss can only fall if gradients reach the encoder through it
TEST(OverfitScaffold, AutoencoderBackboneRebuildsAFixedBatchFromTheLastState) {
  constexpr int B = 4, T = 8, N = 8;
  Rng rng(5);
  std::vector<int32_t> tokens(B * T);
  for (auto& t : tokens) t = static_cast<int32_t>(rng.below(N - 1));
  for (int b = 0; b < B; ++b) tokens[b * T + T - 1] = N - 1;  // the compression token
  ModelConfig c;
  c.vocab_size = N, c.max_seq_len = T, c.d_model = 32, c.n_layers = 4, c.layout = "alternate";
  c.norm = "layernorm", c.head_bias = true, c.backbone = "autoencoder";
  c.mixers = {{"deltanet", {}}};
  Model model(c);
  model.initialize(3);
  EXPECT_GE(model.params().find("model.decoder.fc2.bias"), 0);
  EXPECT_EQ(model.params().find("model.norm.weight"), -1);
  const FitResult fit = fit_fixed_batch(model, tokens, tokens, B, T);
  EXPECT_LT(fit.last, 0.1 * fit.first) << "loss " << fit.first << " -> " << fit.last;
}

INSTANTIATE_TEST_SUITE_P(Registry, Overfit, ::testing::ValuesIn(mixer_registry()),
                         [](const auto& info) { return info.param->name; });

}  // namespace
}  // namespace db
