// test_experiment_validation.cpp: reading experiment files, and one test per class of bad input,
// each asserting that the error names the file and line (or the --set/--profile text), the dotted
// key and the problem, because that is what lets a user fix a sweep without reading code.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "harness/config/component_catalog.h"
#include "harness/config/experiment_file.h"
#include "harness/sweep/expansion.h"
#include "harness/train/device_support.h"
#include "harness_test_support.h"

namespace db {
namespace {

using test::expect_experiment_error;
using test::fake_catalog;

Expansion expand(const std::string& text, const ExpandOptions& options = {}) {
  return expand_experiment(parse_experiment(text, "x.yaml"), options, fake_catalog());
}

const char* kGood = R"(name: demo
description: a small sweep
task: {name: recall, seq_len: 64, num_kv_pairs: 4}
model:
  d_model: 32
  mixer: {name: deltanet, num_heads: 2}
train: {lr: 1e-3, epochs: 2, batch_size: 8}
seeds: [1, 2]
sweep:
  grid: {model.d_model: [32, 64]}
profiles:
  quick: {set: {train.epochs: 1}}
  full: {}
report: {rows: [model.mixer.name], cols: model.d_model, value: score, best_over: [train.lr], mean_over: [seed]}
)";

TEST(ExperimentFile, ReadsEverySection) {
  const Experiment ex = parse_experiment(kGood, "x.yaml");
  EXPECT_EQ(ex.name, "demo");
  EXPECT_EQ(ex.description, "a small sweep");
  ASSERT_NE(ex.base.find("task.seq_len"), nullptr);
  EXPECT_EQ(ex.base.find("task.seq_len")->value.Scalar(), "64");
  EXPECT_EQ(ex.base.find("task.seq_len")->origin.describe(), "x.yaml:3");
  ASSERT_NE(ex.base.find("model.mixer.num_heads"), nullptr);
  EXPECT_EQ(ex.base.find("model.mixer.num_heads")->origin.describe(), "x.yaml:6");
  EXPECT_EQ(ex.seeds.seeds, (std::vector<uint64_t>{1, 2}));
  ASSERT_EQ(ex.sweep.grid.size(), 1u);
  EXPECT_EQ(ex.sweep.grid[0].key, "model.d_model");
  EXPECT_EQ(ex.sweep.grid[0].values.size(), 2u);
  ASSERT_EQ(ex.profiles.size(), 2u);
  EXPECT_EQ(ex.profiles[0].name, "quick");
  EXPECT_EQ(ex.profiles[0].sets.at(0).key, "train.epochs");
  EXPECT_EQ(ex.report.rows, std::vector<std::string>{"model.mixer.name"});
  EXPECT_EQ(ex.report.cols, std::vector<std::string>{"model.d_model"});
  EXPECT_EQ(ex.report.mean_over, std::vector<std::string>{"seed"});
}

TEST(ExperimentFile, NameDefaultsToTheFileStemAndSeedDefaultsToZero) {
  const Experiment ex = parse_experiment("task: recall\nmodel: {mixer: deltanet}\ntrain: {epochs: 1}\n", "dir/my_exp.yaml");
  EXPECT_EQ(ex.name, "my_exp");
  EXPECT_EQ(ex.seeds.seeds, std::vector<uint64_t>{0});
  const Expansion e = expand_experiment(ex, {}, fake_catalog());
  ASSERT_EQ(e.runs.size(), 1u);
  EXPECT_EQ(e.runs[0].task_name, "recall");
  EXPECT_EQ(e.runs[0].mixers.at(0).name, "deltanet");
}

TEST(ExperimentFile, DottedAndNestedKeysAreTheSame) {
  const Expansion a = expand("task: {name: recall, seq_len: 32}\nmodel: {mixer: {name: deltanet}}\ntrain: {epochs: 1}\n");
  const Expansion b = expand("task:\n  seq_len: 32\n  name: recall\nmodel: {mixer.name: deltanet}\ntrain: {epochs: 1}\n");
  ASSERT_EQ(a.runs.size(), 1u);
  ASSERT_EQ(b.runs.size(), 1u);
  EXPECT_EQ(a.runs[0].hash, b.runs[0].hash);
}

TEST(ExperimentValidation, UnknownTopLevelKeySuggestsTheClosest) {
  expect_experiment_error([] { parse_experiment("name: x\ntask: recall\ntrian: {lr: 1}\n", "x.yaml"); }, "x.yaml:3",
                          "trian", "did you mean 'train'?");
}

TEST(ExperimentValidation, UnknownSectionKeySuggestsTheClosest) {
  expect_experiment_error([] { expand("task: recall\nmodel: {mixer: deltanet}\ntrain:\n  epochs: 1\n  lrr: 0.1\n"); },
                          "x.yaml:5", "train.lrr", "did you mean 'train.lr'?");
  expect_experiment_error([] { expand("task: {name: recall, seq_lne: 8}\nmodel: {mixer: deltanet}\ntrain: {epochs: 1}\n"); },
                          "x.yaml:1", "task.seq_lne", "did you mean 'task.seq_len'?");
  expect_experiment_error(
      [] { expand("task: recall\nmodel:\n  mixer: {name: deltanet, num_head: 2}\ntrain: {epochs: 1}\n"); }, "x.yaml:3",
      "model.mixer.num_head", "did you mean 'model.mixer.num_heads'?");
  expect_experiment_error([] { parse_experiment("task: recall\nsweep:\n  gird: {train.lr: [1]}\n", "x.yaml"); },
                          "x.yaml:3", "sweep.gird", "did you mean 'grid'?");
}

TEST(ExperimentValidation, UnknownTaskOrMixerNameSuggestsTheClosest) {
  expect_experiment_error([] { expand("task: recal\nmodel: {mixer: deltanet}\ntrain: {epochs: 1}\n"); }, "x.yaml:1",
                          "task.name", "did you mean 'recall'?");
  expect_experiment_error([] { expand("task: recall\nmodel:\n  mixer: {name: deltanett}\ntrain: {epochs: 1}\n"); },
                          "x.yaml:3", "model.mixer.name", "did you mean 'deltanet'?");
}

TEST(ExperimentValidation, BaseValuesThatEverySweepPointOverridesAreStillChecked) {
  // no run uses the base's mixer, lr or seq_len, but a reader of the file believes they are used
  expect_experiment_error(
      [] {
        expand("task: recall\nmodel:\n  mixer: {name: deltanett}\ntrain: {epochs: 1}\n"
               "sweep: {grid: {model.mixer: [{name: deltanet}, {name: softmax_attention}]}}\n");
      },
      "x.yaml:3", "model.mixer.name", "did you mean 'deltanet'?");
  expect_experiment_error(
      [] { expand("task: recall\nmodel: {mixer: deltanet}\ntrain: {epochs: 1, lr: -1}\nsweep: {grid: {train.lr: [0.1]}}\n"); },
      "x.yaml:3", "train.lr", "greater than 0");
  expect_experiment_error(
      [] {
        expand("task: {name: recall, seq_len: long}\nmodel: {mixer: deltanet}\ntrain: {epochs: 1}\n"
               "sweep: {grid: {task.seq_len: [64]}}\n");
      },
      "x.yaml:1", "task.seq_len", "must be an int");
  // values checked against each other are the runs' business: a base pair that no run uses may clash
  EXPECT_EQ(expand("task: {name: recall, seq_len: 8, num_kv_pairs: 4}\nmodel: {mixer: deltanet}\ntrain: {epochs: 1}\n"
                   "sweep: {grid: {task.seq_len: [64]}}\n")
                .runs.size(),
            1u);
}

TEST(ExperimentValidation, WrongTypeNamesFileLineKeyAndValue) {
  try {
    expand("task: recall\nmodel: {mixer: deltanet}\ntrain:\n  lr: fast\n  epochs: 1\n");
    FAIL() << "expected an error";
  } catch (const ExperimentError& e) {
    EXPECT_STREQ(e.what(), "x.yaml:4: train.lr: must be a float, got string 'fast'");
  }
  expect_experiment_error([] { expand("task: {name: recall, seq_len: [1, 2]}\nmodel: {mixer: deltanet}\ntrain: {epochs: 1}\n"); },
                          "x.yaml:1", "task.seq_len", "must be an int");
  expect_experiment_error([] { parse_experiment("task: recall\nseeds: [1, two]\n", "x.yaml"); }, "x.yaml:2", "seeds",
                          "non-negative integers");
}

TEST(ExperimentValidation, ImpossibleValueFromTheTaskNamesTheKeysLine) {
  // the task's own cross-field check (4 * num_kv_pairs <= seq_len) raises ConfigError("num_kv_pairs")
  expect_experiment_error(
      [] { expand("task:\n  name: recall\n  seq_len: 64\n  num_kv_pairs: 32\nmodel: {mixer: deltanet}\ntrain: {epochs: 1}\n"); },
      "x.yaml:4", "task.num_kv_pairs", "must not exceed seq_len");
}

TEST(ExperimentValidation, NumbersThatAreNotFiniteAreRefused) {
  // 1e400 overflows to infinity when read; such a learning rate or clip only shows later as divergence
  expect_experiment_error([] { expand("task: recall\nmodel: {mixer: deltanet}\ntrain: {epochs: 1, lr: 1e400}\n"); },
                          "x.yaml:3", "train.lr", "finite number");
  expect_experiment_error([] { expand("task: recall\nmodel: {mixer: deltanet}\ntrain: {epochs: 1, grad_clip: -1e999}\n"); },
                          "x.yaml:3", "train.grad_clip", "finite number");
  expect_experiment_error([] { expand("task: recall\nmodel: {mixer: deltanet}\ntrain: {epochs: 1, betas: [0.9, nan]}\n"); },
                          "x.yaml:3", "train.betas", "finite numbers");
}

TEST(ExperimentValidation, AMixersOwnChecksRunWhenTheConfigIsRead) {
  // the real deltanet refuses a width its heads do not divide: at the key's line, before any run starts
  const std::string text =
      "task: {name: mqar, vocab_size: 64, seq_len: 16, num_kv_pairs: 2}\nmodel:\n  d_model: 64\n"
      "  mixer: {name: deltanet, num_heads: 3}\ntrain: {epochs: 1}\n";
  expect_experiment_error([&] { expand_experiment(parse_experiment(text, "x.yaml"), {}, registry_catalog()); },
                          "x.yaml:4", "model.mixer.num_heads", "not divisible");
  expect_experiment_error(
      [&] {
        expand_experiment(parse_experiment("task: {name: mqar, vocab_size: 64, seq_len: 16, num_kv_pairs: 2}\n"
                                           "model: {d_model: 64, mixers: [{name: softmax_attention}, {name: deltanet, chunk_size: 17}]}\n"
                                           "train: {epochs: 1}\n",
                                           "x.yaml"),
                          {}, registry_catalog());
      },
      "x.yaml:2", "model.mixers.1.chunk_size", "16, 32 or 64");
}

TEST(ExperimentValidation, HostileYamlIsRefusedInsteadOfExpanded) {
  // an alias inside the node it names: a cycle, which a walk would follow for ever
  expect_experiment_error([] { parse_experiment("name: selfref\nmodel: &m {d_model: 16, x: *m}\n", "x.yaml"); }, "x.yaml:2",
                          "model.x", "refers to a node that contains it");
  // found by fuzz/fuzz_experiment.cpp: a map whose key is an alias of the map itself
  expect_experiment_error([] { parse_experiment("name: selfref\nmodel: &m { *m}\n", "x.yaml"); }, "x.yaml:2", "model",
                          "a key must be a plain name");
  expect_experiment_error([] { parse_experiment("task: &t {name: recall}\ntrain: {<<: *t, epochs: 1}\n", "x.yaml"); },
                          "x.yaml:2", "train.<<", "merge keys (<<) are not supported");
  // "billion laughs": each level lists the previous one ten times, 10^6 values from 7 short lines
  std::string laughs = "l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n";
  for (int level = 1; level <= 6; ++level) {
    laughs += fmt::format("l{}: &l{} [", level, level);
    for (int i = 0; i < 10; ++i) laughs += fmt::format("{}*l{}", i ? ", " : "", level - 1);
    laughs += "]\n";
  }
  try {
    parse_experiment(laughs, "x.yaml");
    ADD_FAILURE() << "a million-value alias chain was expanded";
  } catch (const ExperimentError& e) {
    EXPECT_NE(std::string(e.what()).find("more than 200000 values"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("x.yaml:", 0), 0u) << e.what();
  }
  std::string deep = "model:\n  x: " + std::string(40, '[') + "1" + std::string(40, ']') + "\n";
  expect_experiment_error([&] { parse_experiment(deep, "x.yaml"); }, "x.yaml:2", "model.x", "nested deeper than 32");
  // a grid that multiplies into more runs than memory holds is refused before it is built
  std::string values = "[";
  for (int i = 0; i < 100; ++i) values += fmt::format("{}{}", i ? ", " : "", i + 1);
  values += "]";
  expect_experiment_error(
      [&] {
        expand(fmt::format("task: recall\nmodel: {{mixer: deltanet}}\ntrain: {{epochs: 1}}\n"
                           "sweep: {{grid: {{model.d_model: {0}, train.epochs: {0}, train.batch_size: {0}}}}}\n",
                           values));
      },
      "x.yaml", "sweep", "more than 100000 runs");
}

TEST(ExperimentValidation, ImpossibleTrainingValues) {
  expect_experiment_error([] { expand("task: recall\nmodel: {mixer: deltanet}\ntrain: {epochs: 1, lr: -0.1}\n"); },
                          "x.yaml:3", "train.lr", "greater than 0");
  expect_experiment_error([] { expand("task: recall\nmodel: {mixer: deltanet, n_layers: 0}\ntrain: {epochs: 1}\n"); },
                          "x.yaml:2", "model.n_layers", "at least 1");
  expect_experiment_error([] { expand("task: recall\nmodel: {mixer: deltanet}\ntrain: {lr: 0.1}\n"); }, "x.yaml:3",
                          "train.epochs", "set train.epochs or train.steps");
}

TEST(ExperimentValidation, CompressionNeedsTheAutoencoderBackbone) {
  expect_experiment_error([] { expand("task: compression\nmodel: {mixer: deltanet, backbone: lm}\ntrain: {epochs: 1}\n"); },
                          "x.yaml:2", "model.backbone", "needs backbone 'autoencoder'");
  EXPECT_EQ(expand("task: compression\nmodel: {mixer: deltanet, backbone: autoencoder}\ntrain: {epochs: 1}\n").runs.size(),
            1u);
}

TEST(ExperimentValidation, TheRegisteredCompressionTaskDeclaresItsBackbone) {
  // the same check against the real registry: the requirement lives in the task's entry
  const std::string text = "task: compression\nmodel: {mixer: deltanet}\ntrain: {epochs: 1}\n";
  expect_experiment_error(
      [&] { expand_experiment(parse_experiment(text, "x.yaml"), {}, registry_catalog()); }, "x.yaml:2",
      "model.backbone", "task 'compression' needs backbone 'autoencoder'");
  EXPECT_TRUE(registry_catalog().find_task("mqar")->required_backbone.empty());
}

TEST(ExperimentValidation, EmptySweepAxisExpandsToNothing) {
  expect_experiment_error(
      [] { parse_experiment("task: recall\nsweep:\n  grid:\n    train.lr: []\n", "x.yaml"); }, "x.yaml:4",
      "sweep.grid.train.lr", "expand to nothing");
  expect_experiment_error([] { parse_experiment("task: recall\nseeds: []\n", "x.yaml"); }, "x.yaml:2", "seeds",
                          "expand to nothing");
}

TEST(ExperimentValidation, UnequalZipLengths) {
  expect_experiment_error(
      [] {
        parse_experiment("task: recall\nsweep:\n  zip:\n    - task.seq_len: [64, 128]\n      task.num_kv_pairs: [4]\n",
                         "x.yaml");
      },
      "x.yaml:5", "sweep.zip.0.task.num_kv_pairs", "equal lengths");
}

TEST(ExperimentValidation, AKeySweptTwiceNamesBothLines) {
  expect_experiment_error(
      [] {
        parse_experiment("task: recall\nsweep:\n  grid:\n    train.lr: [1, 2]\n  zip:\n    - task.seq_len: [64, 128]\n"
                         "      train.lr: [3, 4]\n",
                         "x.yaml");
      },
      "x.yaml:7", "sweep.zip.0.train.lr", "swept twice (also at x.yaml:4)");
  expect_experiment_error(
      [] {
        parse_experiment("task: recall\nprofiles:\n  quick:\n    sweep:\n      zip:\n        - {train.lr: [1, 2]}\n"
                         "        - {train.lr: [3, 4], task.seq_len: [64, 128]}\n",
                         "x.yaml");
      },
      "x.yaml:7", "profiles.quick.sweep.zip.1.train.lr", "swept twice (also at x.yaml:6)");
}

TEST(ExperimentValidation, ErrorsInSweepValuesPointAtTheValuesLine) {
  expect_experiment_error(
      [] {
        expand(
            "task: recall\nmodel: {mixer: deltanet}\ntrain: {epochs: 1}\nsweep:\n  grid:\n    train.lr:\n      - 0.001\n"
            "      - fast\n");
      },
      "x.yaml:8", "train.lr", "must be a float, got string 'fast'");
  expect_experiment_error(
      [] {
        expand("task: recall\nmodel: {mixer: deltanet}\ntrain: {epochs: 1}\nsweep:\n  changes:\n    - {task.seq_len: 64}\n"
               "    - {task.num_kv_pairs: 99}\n");
      },
      "x.yaml:7", "task.num_kv_pairs", "must not exceed seq_len");
}

TEST(ExperimentValidation, BadSetOverrides) {
  const char* base = "task: recall\nmodel: {mixer: deltanet}\ntrain: {epochs: 1}\n";
  expect_experiment_error([&] { expand(base, {"", {"train.lr=fast"}}); }, "--set train.lr=fast", "train.lr",
                          "must be a float, got string 'fast'");
  expect_experiment_error([&] { expand(base, {"", {"train.lr"}}); }, "--set train.lr", "", "expected key=value");
  expect_experiment_error([&] { expand(base, {"", {"trian.lr=1"}}); }, "--set trian.lr=1", "trian.lr",
                          "did you mean 'train.lr'?");
  expect_experiment_error([&] { expand(base, {"", {"train.lrr=1"}}); }, "--set train.lrr=1", "train.lrr",
                          "did you mean 'train.lr'?");
  expect_experiment_error([&] { expand(base, {"", {"train.lr=[1, "}}); }, "--set train.lr=[1, ", "train.lr",
                          "malformed value");
}

TEST(ExperimentValidation, UnknownProfileSuggestsTheClosest) {
  expect_experiment_error([] { expand(kGood, {"qick", {}}); }, "--profile qick", "", "did you mean 'quick'?");
}

TEST(ExperimentValidation, MalformedYamlReportsTheParsersLine) {
  expect_experiment_error([] { parse_experiment("task: recall\nmodel: {mixer: deltanet\ntrain: {epochs: 1}\n", "x.yaml"); },
                          "x.yaml:3", "", "malformed YAML");
}

TEST(ExperimentValidation, DuplicateKeysAndConflictingMixers) {
  expect_experiment_error([] { expand("task: {name: recall, seq_len: 8, seq_len: 16}\nmodel: {mixer: deltanet}\ntrain: {epochs: 1}\n"); },
                          "x.yaml:1", "task.seq_len", "duplicate key");
  expect_experiment_error(
      [] { expand("task: recall\nmodel:\n  mixer: deltanet\n  mixers: [deltanet, softmax_attention]\ntrain: {epochs: 1}\n"); },
      "x.yaml:4", "model.mixers", "not both");
}

TEST(ExperimentValidation, MissingFileIsAnError) {
  expect_experiment_error([] { load_experiment("/nonexistent/dir/x.yaml"); }, "/nonexistent/dir/x.yaml", "",
                          "cannot read");
}

}  // namespace
}  // namespace db

namespace db {
namespace {

// train.device: cuda is checked when the file is read, so a sweep is refused before any run starts
TEST(ExperimentValidation, CudaRunsAreRefusedWhereTheGpuBackendCannotTrainThem) {
  const std::string text = R"(task: {name: compression}
model: {d_model: 32, backbone: autoencoder, mixer: {name: deltanet}}
train: {epochs: 1, device: cuda}
)";
  if (cuda_backend_built()) {
    EXPECT_EQ(expand(text).runs.size(), 1u);  // both backbones train on the GPU
  } else {
    expect_experiment_error([&] { expand(text); }, "x.yaml:3", "train.device", "needs a build with the CUDA backend");
  }
}

// the GPU's short convolution takes at most kMaxShortConvTaps taps: a wider one on device: cuda is
// refused at its key when the file is read, not when the run starts
TEST(ExperimentValidation, AShortConvWiderThanTheGpuTakesIsRefusedAtItsKeyOnCuda) {
  if (!cuda_backend_built()) GTEST_SKIP() << "a build without the CUDA backend refuses device: cuda itself";
  const auto with = [](int conv_size, const char* device) {
    return fmt::format("task: {{name: mqar}}\nmodel:\n  mixer: {{name: deltanet, use_short_conv: true, "
                       "conv_size: {}}}\ntrain: {{epochs: 1, device: {}}}\n",
                       conv_size, device);
  };
  // the real mixers (the fake catalog's deltanet has no conv_size)
  const auto expand_real = [](const std::string& text) {
    return expand_experiment(parse_experiment(text, "x.yaml"), {}, registry_catalog());
  };
  expect_experiment_error([&] { expand_real(with(9, "cuda")); }, "x.yaml:3", "model.mixer.conv_size",
                          "conv_size 9 is above the 8 taps");
  EXPECT_EQ(expand_real(with(8, "cuda")).runs.size(), 1u);
  EXPECT_EQ(expand_real(with(9, "cpu")).runs.size(), 1u);  // the CPU's convolution takes any width
}

TEST(ExperimentValidation, UnknownDeviceIsRefused) {
  expect_experiment_error([] { expand("task: {name: recall}\nmodel: {mixer: {name: deltanet}}\ntrain: {epochs: 1, device: tpu}\n"); },
                          "x.yaml:3", "train.device", "tpu");
}

// bf16 exists on the GPU backend only; asked of the CPU it is refused at the key, not run as fp32
TEST(ExperimentValidation, Bf16OnTheCpuIsRefusedAndFp32KeepsTheRunIdentity) {
  expect_experiment_error(
      [] { expand("task: {name: recall}\nmodel: {mixer: {name: deltanet}}\ntrain: {epochs: 1, precision: bf16}\n"); },
      "x.yaml:3", "train.precision", "GPU backend only");
  expect_experiment_error(
      [] { expand("task: {name: recall}\nmodel: {mixer: {name: deltanet}}\ntrain: {epochs: 1, precision: fp16}\n"); },
      "x.yaml:3", "train.precision", "fp16");
  // precision: fp32, the default, is no part of a run's identity (runs made before the key existed keep
  // their folders); bf16 is
  const auto plain = expand("task: {name: recall}\nmodel: {mixer: {name: deltanet}}\ntrain: {epochs: 1}\n");
  const auto fp32 = expand("task: {name: recall}\nmodel: {mixer: {name: deltanet}}\ntrain: {epochs: 1, precision: fp32}\n");
  ASSERT_EQ(plain.runs.size(), 1u);
  EXPECT_EQ(plain.runs[0].hash, fp32.runs[0].hash);
  if (cuda_backend_built()) {
    const auto cuda = expand("task: {name: recall}\nmodel: {mixer: {name: deltanet}}\ntrain: {epochs: 1, device: cuda}\n");
    const auto bf16 = expand(
        "task: {name: recall}\nmodel: {mixer: {name: deltanet}}\ntrain: {epochs: 1, device: cuda, precision: bf16}\n");
    EXPECT_NE(cuda.runs[0].hash, bf16.runs[0].hash);
  }
}

TEST(DeviceSupport, AMixerWithoutACudaHalfIsNamed) {
  try {
    require_gpu_mixer("mixer_without_a_cuda_half");
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(cuda_backend_built() ? "mixer_without_a_cuda_half" : "CUDA backend"),
              std::string::npos)
        << e.what();
  }
  if (cuda_backend_built()) {
    EXPECT_NO_THROW(require_gpu_mixer("deltanet"));
  }
}

}  // namespace
}  // namespace db
