// test_gpu_forward.cpp: `deltabench forward --device cuda` on a trained checkpoint gives the CPU's
// logits (relative RMS <= 1e-5, the bound of the model tests), with the same metadata.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "common/rng.h"
#include "common/safetensors.h"
#include "harness/commands/eval_forward.h"
#include "harness/train/trainer.h"
#include "models/cuda/runtime.h"
#include "tests/common/relative_rms.h"
#include "tests/harness/tiny_run.h"

namespace db {
namespace {

namespace fs = std::filesystem;

TEST(GpuForward, CommandWritesTheCpuLogitsFromATrainedCheckpoint) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device visible";
  const fs::path dir = fs::temp_directory_path() / ("deltabench_gpu_forward_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const RunOutcome run = train_run(test::tiny_config(), dir / "run", {});
  ASSERT_EQ(run.status, "done");
  ASSERT_TRUE(fs::exists(dir / "run" / "model.safetensors"));

  const int B = 3, T = 16, vocab = 64;  // the tiny MQAR run's shape
  Rng rng(11);
  std::vector<int64_t> ids(B * T);
  for (auto& id : ids) id = static_cast<int64_t>(rng.below(vocab));
  write_safetensors((dir / "tokens.safetensors").string(), {{"tokens", SafeTensor::from_i64({B, T}, ids)}});

  std::ostringstream out, err;
  ForwardArgs args;
  args.checkpoint = dir / "run";
  args.tokens = dir / "tokens.safetensors";
  args.out = dir / "cpu.safetensors";
  ASSERT_EQ(forward_command(args, out, err), 0) << err.str();
  args.device = "cuda";
  args.out = dir / "gpu.safetensors";
  ASSERT_EQ(forward_command(args, out, err), 0) << err.str();

  const SafetensorsFile cpu = read_safetensors((dir / "cpu.safetensors").string());
  const SafetensorsFile gpu = read_safetensors((dir / "gpu.safetensors").string());
  EXPECT_EQ(gpu.shape("logits"), (std::vector<int64_t>{B, T, vocab}));
  EXPECT_LE(test::relative_rms(gpu.f32("logits"), cpu.f32("logits")), 1e-5);
  EXPECT_EQ(gpu.meta("model"), cpu.meta("model"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace db
