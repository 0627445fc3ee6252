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
#include "tests/common/reference_models.h"
#include "tests/common/relative_rms.h"

namespace db {
namespace {

using test::relative_rms;

class ModelReference : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelReference, LogitsLossAndEveryGradientMatch) {
  const auto f = read_safetensors(test::reference_path(GetParam()));
  ModelConfig config = test::reference_model_config(f);
  const auto& tshape = f.shape("input.tokens");
  const int B = static_cast<int>(tshape[0]), T = static_cast<int>(tshape[1]);

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

INSTANTIATE_TEST_SUITE_P(Files, ModelReference, ::testing::ValuesIn(test::reference_model_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace db
