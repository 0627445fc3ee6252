// test_gpu_reference.cpp: the GPU model against the float64 reference vectors, as
// tests/models_f64/test_model_reference.cpp holds the CPU model to them.
//
// Each tests/data/reference/model_*.safetensors model (DeltaNet in both eigenvalue ranges, Gated
// DeltaNet, DeltaProduct with 2 and 3 Householder steps) is loaded by its Hugging Face names into a
// float model, mirrored to the GPU, and one forward + backward on the file's batch is compared with
// the file's loss and the gradient of every parameter. The GPU computes in fp32 where the reference
// is float64, so the bounds are fp32's: the loss within 1e-5 relative, each gradient within 1e-4
// relative RMS, which the float CPU model meets too (checked here, without a GPU); the GPU's agreement
// with that model to 1e-5 is test_gpu_model.cpp's.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/ignore_index.h"
#include "common/safetensors.h"
#include "models/backbones/model.h"
#include "models/cuda/device_params.h"
#include "models/cuda/gpu_model.h"
#include "models/cuda/runtime.h"
#include "tests/common/reference_models.h"
#include "tests/common/relative_rms.h"

namespace db::cuda {
namespace {

// the reference parameters in a float model, and the file's batch
struct ReferenceCase {
  explicit ReferenceCase(const std::string& name)
      : file(read_safetensors(test::reference_path(name))), host(test::reference_model_config(file)) {
    for (const auto& p : host.params().params()) {
      const auto values = file.f64(p.name);
      if (values.size() != p.size) throw std::runtime_error(p.name + ": size differs from the reference file's");
      for (size_t i = 0; i < p.size; ++i) host.params().data()[p.offset + i] = static_cast<float>(values[i]);
    }
    const auto& shape = file.shape("input.tokens");
    B = static_cast<int>(shape[0]), T = static_cast<int>(shape[1]);
    const auto tokens64 = file.i64("input.tokens");
    tokens.assign(tokens64.begin(), tokens64.end());
    for (const int64_t t : file.i64("input.targets")) targets.push_back(static_cast<int32_t>(t));
    for (size_t i = 0; i < targets.size(); ++i)
      if (targets[i] != IGNORE) labelled.push_back(static_cast<int32_t>(i)), gathered.push_back(targets[i]);
  }
  // the loss and each gradient against the file's, at fp32's bounds
  void expect_matches(double mean_loss, const std::vector<float>& grads) const {
    const double reference_loss = file.f64("output.loss")[0];
    EXPECT_NEAR(mean_loss, reference_loss, 1e-5 * std::abs(reference_loss));
    for (const auto& p : host.params().params()) {
      const std::vector<float> got(grads.begin() + p.offset, grads.begin() + p.offset + p.size);
      EXPECT_LT(test::relative_rms(got, file.f64("grad." + p.name)), 1e-4) << "grad." << p.name;
    }
  }
  SafetensorsFile file;
  Model host;
  int B = 0, T = 0;
  std::vector<int32_t> tokens, targets;     // [B*T] each
  std::vector<int32_t> labelled, gathered;  // [M] positions with a target, and those targets
};

class GpuModelReference : public ::testing::TestWithParam<std::string> {};

// the bounds are fp32's, not the test's leniency: the float CPU model meets them too (no GPU needed)
TEST_P(GpuModelReference, TheFloatCpuModelMeetsTheSameBounds) {
  ReferenceCase c(GetParam());
  c.host.params().zero_grad();
  const LossResult r = c.host.forward_loss(c.tokens.data(), c.targets.data(), c.B, c.T, true, nullptr);
  c.host.backward();
  c.expect_matches(r.loss_sum / r.count, std::vector<float>(c.host.params().grad(),
                                                            c.host.params().grad() + c.host.params().size()));
}

TEST_P(GpuModelReference, LossAndEveryGradientMatch) {
  if (device_count() == 0) GTEST_SKIP() << "no CUDA device visible";
  const ReferenceCase c(GetParam());
  const int M = static_cast<int>(c.labelled.size());
  Context ctx;
  DeviceParams params(c.host.params(), ctx);
  GpuModel gpu(ctx, c.host, params);
  DeviceBuffer<int32_t> tokens(c.tokens.size()), labelled(M), targets(M);
  upload(c.tokens.data(), tokens.data(), c.tokens.size(), ctx.stream());
  upload(c.labelled.data(), labelled.data(), M, ctx.stream());
  upload(c.gathered.data(), targets.data(), M, ctx.stream());
  params.zero_grad();
  gpu.forward_loss(tokens.data(), c.B, c.T, labelled.data(), targets.data(), M, true);
  gpu.backward();
  double loss_sum = 0;
  download(gpu.loss_sum(), &loss_sum, 1, ctx.stream());
  std::vector<float> grads(params.size());
  download(params.grads(), grads.data(), grads.size(), ctx.stream());
  ctx.synchronize();
  c.expect_matches(loss_sum / M, grads);
}

INSTANTIATE_TEST_SUITE_P(Files, GpuModelReference, ::testing::ValuesIn(test::reference_model_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace db::cuda
