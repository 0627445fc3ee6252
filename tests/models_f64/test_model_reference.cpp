// test_model_reference.cpp: whole language models against the float64 reference vectors.
//
// tests/data/reference/model_*.safetensors hold tiny fla-layout DeltaNet, Gated DeltaNet and
// DeltaProduct models from an independent implementation that agrees with flash-linear-attention,
// with inputs, logits, loss and the gradient of every parameter. We load the parameters by their
// Hugging Face names into our model (so the names and layouts are checked too), run forward and
// backward in double, and compare, as llm.c's test_gpt2 does against PyTorch.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "common/safetensors.h"
#include "models/backbones/model.h"
#include "tests/common/relative_rms.h"

namespace db {
namespace {

using test::relative_rms;


ModelConfig config_for(const SafetensorsFile& f) {
  const int H = std::stoi(f.meta("heads"));
  const int D = std::stoi(f.meta("d_model"));
  const std::string kind = f.meta("kind");
  const int64_t key_dim = f.shape("model.layers.0.attn.q_proj.weight")[0];
  const int64_t head_v = f.shape("model.layers.0.attn.o_norm.weight")[0];
  ModelConfig c;
  c.vocab_size = std::stoi(f.meta("vocab"));
  c.d_model = D;
  c.n_layers = std::stoi(f.meta("layers"));
  c.mlp_hidden = std::stoi(f.meta("mlp_hidden"));
  c.norm_eps = std::stod(f.meta("norm_eps"));
  c.tie_embeddings = f.meta("tied_embeddings") == "1";
  MixerSpec m;
  m.name = kind;
  m.options["num_heads"] = int64_t{H};
  m.options["head_dim"] = int64_t{key_dim / H};
  m.options["expand_v"] = static_cast<double>(head_v) / static_cast<double>(key_dim / H);
  m.options["chunk_size"] = int64_t{16};  // 37 tokens: two full chunks and a partial one
  m.options["norm_eps"] = c.norm_eps;
  m.options["eigen_range"] = std::vector<double>{f.meta("eigen_range") == "[-1,1]" ? -1.0 : 0.0, 1.0};
  if (kind != "deltanet") {
    m.options["use_forget_gate"] = f.meta("forget_gate") == "1";
    m.options["use_output_gate"] = f.meta("output_gate") == "1";
  }
  if (kind == "deltaproduct") m.options["householder"] = int64_t{std::stoi(f.meta("householder"))};
  c.mixers = {m};
  return c;
}

class ModelReference : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelReference, LogitsLossAndEveryGradientMatch) {
  const auto f = read_safetensors(std::string(DELTABENCH_TEST_DATA_DIR) + "/reference/" + GetParam() + ".safetensors");
  ModelConfig config = config_for(f);
  const auto& tshape = f.shape("input.tokens");
  const int B = static_cast<int>(tshape[0]), T = static_cast<int>(tshape[1]);
  config.max_seq_len = T;

  for (const char* mode : {"chunk", "recurrent"}) {
    SCOPED_TRACE(mode);
    config.mixers[0].options["mode"] = std::string(mode);
    Model model(config);
    // every parameter of ours must exist in the file with the same shape, and vice versa
    size_t file_params = 0;
    for (const auto& [name, t] : f.tensors)
      if (name.rfind("model.", 0) == 0 || name.rfind("lm_head.", 0) == 0) ++file_params;
    ASSERT_EQ(model.params().params().size(), file_params);
    for (const auto& p : model.params().params()) {
      ASSERT_TRUE(f.has(p.name)) << p.name;
      ASSERT_EQ(f.shape(p.name), p.shape) << p.name;
      const auto values = f.f64(p.name);
      std::copy(values.begin(), values.end(), model.params().data() + p.offset);
    }
    const auto tokens64 = f.i64("input.tokens"), targets64 = f.i64("input.targets");
    std::vector<int32_t> tokens(tokens64.begin(), tokens64.end()), targets(targets64.begin(), targets64.end());

    std::vector<real> logits(size_t(B) * T * config.vocab_size);
    model.forward_logits(tokens.data(), B, T, logits.data());
    EXPECT_LT(relative_rms(logits.data(), f.f64("output.logits")), 1e-10);

    model.params().zero_grad();
    const LossResult loss = model.forward_loss(tokens.data(), targets.data(), B, T, true, nullptr);
    model.backward();
    EXPECT_NEAR(loss.loss_sum / loss.count, f.f64("output.loss")[0], 1e-10);
    for (const auto& p : model.params().params()) {
      const double err = relative_rms(model.params().grad() + p.offset, f.f64("grad." + p.name));
      EXPECT_LT(err, 1e-9) << "grad." << p.name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Files, ModelReference,
                         ::testing::Values("model_deltanet", "model_deltanet_neg", "model_gated_deltanet_neg",
                                           "model_deltaproduct2_gated_neg", "model_deltaproduct3_neg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace db
