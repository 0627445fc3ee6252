// test_inference.cpp: `deltabench eval` and `deltabench forward` end to end through the built CLI.
//
// A tiny MQAR experiment is trained with `deltabench run` once (shared by all tests of the file);
// then eval must reproduce the run's own test score from the checkpoint alone, accept task changes
// (longer sequences, another task with a fitting vocabulary) and refuse the ones a model cannot take
// (a larger vocabulary, sequences past a learned position table), and forward must write logits
// equal to Model::forward_logits in this process, whose argmax at labelled positions are the
// predictions evaluation scores. Bad input exits 2 with the offending file named.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/safetensors.h"
#include "common/atomic_file.h"
#include "harness/train/checkpoint.h"
#include "harness/train/device_support.h"
#include "harness/config/experiment_file.h"
#include "harness/commands/eval_forward.h"
#include "harness/sweep/expansion.h"
#include "harness_test_support.h"
#include "tiny_run.h"
#include "models/backbones/model.h"
#include "tasks/task.h"

namespace db {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

using test::CliResult;
using test::has;
using test::run_deltabench;

using test::kTinyExperiment;
using test::tiny_config;

// one trained run shared by every test (training it once keeps the file fast)
class Inference : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new test::TempDir();
    std::ofstream(tmp_->path / "tiny.yaml") << kTinyExperiment;
    const CliResult r = run_deltabench("run tiny.yaml --out results --quiet", tmp_->path);
    ASSERT_EQ(r.code, 0) << r.err;
    for (const auto& e : fs::directory_iterator(tmp_->path / "results" / "runs")) run_dir_ = e.path();
    ASSERT_TRUE(fs::exists(run_dir_ / "result.json"));
    checkpoint_ = run_dir_ / "model.safetensors";
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  static const fs::path& dir() { return tmp_->path; }
  // the checkpoint path as a quoted shell word
  static std::string ckpt() { return fmt::format("'{}'", checkpoint_.string()); }

  static test::TempDir* tmp_;
  static fs::path run_dir_, checkpoint_;
};
test::TempDir* Inference::tmp_ = nullptr;
fs::path Inference::run_dir_, Inference::checkpoint_;

json eval_json(const std::string& args, const fs::path& workdir) {
  const CliResult r = run_deltabench("eval " + args + " --json", workdir);
  EXPECT_EQ(r.code, 0) << r.err;
  if (r.code != 0) return json::object();
  return json::parse(r.out);
}

TEST_F(Inference, EvalReproducesTheRunsScore) {
  const json result = json::parse(read_text_file(run_dir_ / "result.json"));
  const double run_score = result["metrics"]["score"].get<double>();
  const json e = eval_json("--checkpoint " + ckpt(), dir());
  ASSERT_TRUE(e.contains("metrics")) << e.dump();
  // the same model on the same test split (the checkpoint's seed): the very same number
  EXPECT_EQ(e["metrics"]["score"].get<double>(), run_score);
  EXPECT_EQ(e["metrics"]["accuracy"].get<double>(), result["metrics"]["accuracy"].get<double>());
  // the loss is a float sum whose vectorised order can depend on buffer addresses (see the report on
  // heap alignment), so it is compared to float precision rather than bitwise
  const double run_loss = result["metrics"]["test_loss"].get<double>();
  EXPECT_NEAR(e["metrics"]["loss"].get<double>(), run_loss, 1e-6 * std::abs(run_loss));
  EXPECT_EQ(e["examples"], 64);
  EXPECT_EQ(e["split"], "test");
  EXPECT_EQ(e["task_name"], "mqar");
  EXPECT_EQ(e["seed"], 7);
  EXPECT_EQ(e["step"], 16);
  EXPECT_EQ(e["task"]["seq_len"], 16);

  // a run folder stands for its checkpoint; the batch size does not change the result
  const json by_dir = eval_json("--checkpoint '" + run_dir_.string() + "' --batch-size 5", dir());
  EXPECT_EQ(by_dir["metrics"]["score"].get<double>(), run_score);

  // aligned text names the metrics
  const CliResult text = run_deltabench("eval --checkpoint " + ckpt(), dir());
  EXPECT_EQ(text.code, 0) << text.err;
  EXPECT_TRUE(has(text.out, "score")) << text.out;
  EXPECT_TRUE(has(text.out, "test, 64 examples, seed 7")) << text.out;
}

TEST_F(Inference, EvalChangesTheData) {
  // -n, --split and --seed choose which examples are scored
  const json few = eval_json("--checkpoint " + ckpt() + " -n 10", dir());
  EXPECT_EQ(few["examples"], 10);
  const json train = eval_json("--checkpoint " + ckpt() + " --split train -n 32", dir());
  EXPECT_EQ(train["split"], "train");
  EXPECT_EQ(train["examples"], 32);
  const json other_seed = eval_json("--checkpoint " + ckpt() + " --seed 99", dir());
  EXPECT_EQ(other_seed["seed"], 99);

  // length generalisation: the model has no position table, so longer inputs are fine
  const json longer = eval_json("--checkpoint " + ckpt() + " --set task.seq_len=32 --set num_kv_pairs=4", dir());
  EXPECT_EQ(longer["task"]["seq_len"], 32);
  EXPECT_EQ(longer["task"]["num_kv_pairs"], 4);
  EXPECT_EQ(longer["task"]["vocab_size"], 64);  // kept from the checkpoint
  EXPECT_TRUE(longer["metrics"]["score"].is_number());

  // another task whose vocabulary (16) fits the model's (64)
  const json other = eval_json("--checkpoint " + ckpt() +
                                   " --task in_context_recall --set seq_len=16 --set num_test_examples=8",
                               dir());
  EXPECT_EQ(other["task_name"], "in_context_recall");
  EXPECT_EQ(other["examples"], 8);
}

TEST_F(Inference, EvalRefusesWhatTheModelCannotTake) {
  const CliResult vocab = run_deltabench("eval --checkpoint " + ckpt() + " --set task.vocab_size=128", dir());
  EXPECT_EQ(vocab.code, 2);
  EXPECT_TRUE(has(vocab.err, checkpoint_.string()) && has(vocab.err, "vocabulary of 128")) << vocab.err;

  const CliResult key = run_deltabench("eval --checkpoint " + ckpt() + " --set task.seq_lenn=32", dir());
  EXPECT_EQ(key.code, 2);
  EXPECT_TRUE(has(key.err, "--set task.seq_lenn=32") && has(key.err, "seq_len")) << key.err;

  const CliResult model_key = run_deltabench("eval --checkpoint " + ckpt() + " --set model.d_model=8", dir());
  EXPECT_EQ(model_key.code, 2);
  EXPECT_TRUE(has(model_key.err, "task keys only")) << model_key.err;

  const CliResult task = run_deltabench("eval --checkpoint " + ckpt() + " --task mqarr", dir());
  EXPECT_EQ(task.code, 2);
  EXPECT_TRUE(has(task.err, "did you mean 'mqar'")) << task.err;

  // a model with learned positions (for 16 tokens) evaluated on 32-token inputs
  const ResolvedConfig cfg = tiny_config({"model.position=learned"});
  auto t = create_task(cfg.task_name, cfg.task);
  Model m(ModelConfig::from_options(cfg.model, cfg.mixers, t->vocab_size(), t->max_input_length()));
  m.initialize(1);
  const fs::path learned = dir() / "learned.safetensors";
  save_model_checkpoint(learned, m, {cfg.task_name, cfg.task, cfg.model, cfg.mixers, cfg.seed, 0});
  EXPECT_EQ(run_deltabench("eval --checkpoint '" + learned.string() + "' -n 4", dir()).code, 0);
  const CliResult too_long = run_deltabench("eval --checkpoint '" + learned.string() + "' --set task.seq_len=32", dir());
  EXPECT_EQ(too_long.code, 2);
  EXPECT_TRUE(has(too_long.err, "learned positions for 16 tokens") && has(too_long.err, "up to 32")) << too_long.err;
}

SafeTensor i32_tensor(std::vector<int64_t> shape, const std::vector<int32_t>& v) {
  SafeTensor t;
  t.dtype = SafeDtype::I32;
  t.shape = std::move(shape);
  t.bytes.resize(v.size() * sizeof(int32_t));
  std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}

TEST_F(Inference, ForwardWritesTheModelsLogits) {
  // the first test examples of the run's own test split, so the logits can be checked against
  // the predictions evaluation scores
  LoadedCheckpoint ck = load_checkpoint(checkpoint_);
  const auto examples = ck.task->generate(Split::test, split_seed(ck.recipe.seed, Split::test), 0, 3);
  const int B = 3, T = 16, N = 64;
  std::vector<int64_t> tokens64;
  std::vector<int32_t> tokens, targets;
  for (const auto& ex : examples) {
    ASSERT_EQ(ex.input.size(), size_t(T));
    tokens.insert(tokens.end(), ex.input.begin(), ex.input.end());
    targets.insert(targets.end(), ex.target.begin(), ex.target.end());
  }
  tokens64.assign(tokens.begin(), tokens.end());
  write_safetensors((dir() / "tokens.safetensors").string(), {{"tokens", SafeTensor::from_i64({B, T}, tokens64)}});
  write_safetensors((dir() / "tokens32.safetensors").string(), {{"tokens", i32_tensor({B, T}, tokens)}});

  const CliResult r = run_deltabench("forward --checkpoint " + ckpt() + " --tokens tokens.safetensors --out logits.safetensors", dir());
  ASSERT_EQ(r.code, 0) << r.err;
  const SafetensorsFile out = read_safetensors((dir() / "logits.safetensors").string());
  ASSERT_TRUE(out.has("logits"));
  EXPECT_EQ(out.at("logits").dtype, SafeDtype::F32);
  EXPECT_EQ(out.shape("logits"), (std::vector<int64_t>{B, T, N}));
  const std::vector<float> logits = out.f32("logits");
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
  // the checkpoint's recipe travels with the logits
  for (const char* k : {"task_name", "task", "model", "mixers", "seed", "step", "git_sha"})
    EXPECT_EQ(out.meta(k), ck.metadata.at(k)) << k;
  EXPECT_EQ(out.meta("format"), "deltabench-logits-1");

  // equal to Model::forward_logits computed here (same code, same parameters); to float rounding,
  // since vectorised sums may be ordered differently in another process's heap layout
  std::vector<real> here(size_t(B) * T * N);
  ck.model->forward_logits(tokens.data(), B, T, here.data());
  ASSERT_EQ(here.size(), logits.size());
  for (size_t i = 0; i < here.size(); ++i)
    ASSERT_NEAR(static_cast<float>(here[i]), logits[i], 1e-5f * (1.f + std::abs(logits[i]))) << "at " << i;

  // argmax of the logits = the predictions evaluation scores, at every labelled position
  std::vector<int32_t> pred(tokens.size());
  ck.model->forward_loss(tokens.data(), targets.data(), B, T, false, pred.data());
  int labelled = 0;
  for (size_t p = 0; p < tokens.size(); ++p) {
    if (targets[p] == IGNORE) continue;
    ++labelled;
    const float* row = logits.data() + p * N;
    EXPECT_EQ(std::max_element(row, row + N) - row, pred[p]) << "position " << p;
  }
  EXPECT_EQ(labelled, B * 2);  // two queries per example

  // I32 token ids give the same logits
  const CliResult r32 = run_deltabench("forward --checkpoint " + ckpt() + " --tokens tokens32.safetensors --out logits32.safetensors", dir());
  ASSERT_EQ(r32.code, 0) << r32.err;
  EXPECT_EQ(read_safetensors((dir() / "logits32.safetensors").string()).f32("logits"), logits);
}

// Where the GPU cannot be used the command says why and writes nothing: bad input (2) for a build
// without the CUDA backend, a failure to run (1) where no GPU is visible. The GPU's logits
// themselves are compared with the CPU's in tests/cuda/test_gpu_forward.cpp.
TEST_F(Inference, ForwardOnCudaIsRefusedWhereNoGpuCanRunIt) {
  if (visible_gpu_count() > 0) GTEST_SKIP() << "a GPU is visible: tests/cuda compares its logits";
  write_safetensors((dir() / "gpu_tokens.safetensors").string(),
                    {{"tokens", SafeTensor::from_i64({1, 4}, std::vector<int64_t>{1, 2, 3, 4})}});
  const CliResult r = run_deltabench("forward --checkpoint " + ckpt() +
                                         " --tokens gpu_tokens.safetensors --out gpu_logits.safetensors --device cuda",
                                     dir());
  if (cuda_backend_built()) {
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_TRUE(has(r.err, "no GPU is visible")) << r.err;
  } else {
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_TRUE(has(r.err, "no CUDA backend")) << r.err;
  }
  EXPECT_FALSE(fs::exists(dir() / "gpu_logits.safetensors"));
  const CliResult bad = run_deltabench("forward --checkpoint " + ckpt() +
                                           " --tokens gpu_tokens.safetensors --out x.safetensors --device tpu",
                                       dir());
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_TRUE(has(bad.err, "--device")) << bad.err;
}

TEST_F(Inference, BadInputExitsTwoNamingTheFile) {
  // missing, truncated, foreign and mismatched checkpoints
  const CliResult none = run_deltabench("eval --checkpoint nowhere.safetensors", dir());
  EXPECT_EQ(none.code, 2);
  EXPECT_TRUE(has(none.err, "nowhere.safetensors")) << none.err;

  const std::string bytes = read_text_file(checkpoint_);
  std::ofstream(dir() / "cut.safetensors", std::ios::binary) << bytes.substr(0, bytes.size() - 100);
  const CliResult cut = run_deltabench("eval --checkpoint cut.safetensors", dir());
  EXPECT_EQ(cut.code, 2);
  EXPECT_TRUE(has(cut.err, "cut.safetensors")) << cut.err;
  const CliResult cut_fwd = run_deltabench("forward --checkpoint cut.safetensors --tokens x --out y", dir());
  EXPECT_EQ(cut_fwd.code, 2);
  EXPECT_TRUE(has(cut_fwd.err, "cut.safetensors")) << cut_fwd.err;

  write_safetensors((dir() / "foreign.safetensors").string(), {{"x", SafeTensor::from_f32({1}, std::vector<float>{1.f})}});
  const CliResult foreign = run_deltabench("eval --checkpoint foreign.safetensors", dir());
  EXPECT_EQ(foreign.code, 2);
  EXPECT_TRUE(has(foreign.err, "foreign.safetensors") && has(foreign.err, "not a deltabench model")) << foreign.err;

  SafetensorsFile f = read_safetensors(checkpoint_.string());
  std::string victim;
  for (const auto& [name, _] : f.tensors)
    if (has(name, "k_proj")) victim = name;
  ASSERT_FALSE(victim.empty());
  f.tensors.erase(victim);
  write_safetensors((dir() / "holed.safetensors").string(), f.tensors, f.metadata);
  const CliResult holed = run_deltabench("eval --checkpoint holed.safetensors", dir());
  EXPECT_EQ(holed.code, 2);
  EXPECT_TRUE(has(holed.err, "holed.safetensors") && has(holed.err, victim)) << holed.err;

  // bad token files
  auto forward_to = [&](const std::string& tokens_file, const std::string& out_file) {
    return run_deltabench("forward --checkpoint " + ckpt() + " --tokens " + tokens_file + " --out " + out_file, dir());
  };
  auto forward = [&](const std::string& tokens_file) { return forward_to(tokens_file, "o.safetensors"); };
  write_safetensors((dir() / "big_id.safetensors").string(),
                    {{"tokens", SafeTensor::from_i64({1, 3}, std::vector<int64_t>{1, 64, 2})}});
  const CliResult big = forward("big_id.safetensors");
  EXPECT_EQ(big.code, 2);
  EXPECT_TRUE(has(big.err, "big_id.safetensors") && has(big.err, "tokens[0][1] = 64")) << big.err;
  write_safetensors((dir() / "floats.safetensors").string(),
                    {{"tokens", SafeTensor::from_f32({1, 2}, std::vector<float>{1.f, 2.f})}});
  const CliResult floats = forward("floats.safetensors");
  EXPECT_EQ(floats.code, 2);
  EXPECT_TRUE(has(floats.err, "floats.safetensors") && has(floats.err, "F32")) << floats.err;
  write_safetensors((dir() / "flat.safetensors").string(), {{"tokens", SafeTensor::from_i64({3}, std::vector<int64_t>{1, 2, 3})}});
  const CliResult flat = forward("flat.safetensors");
  EXPECT_EQ(flat.code, 2);
  EXPECT_TRUE(has(flat.err, "flat.safetensors") && has(flat.err, "[B,T]")) << flat.err;
  write_safetensors((dir() / "unnamed.safetensors").string(), {{"ids", SafeTensor::from_i64({1, 1}, std::vector<int64_t>{1})}});
  const CliResult unnamed = forward("unnamed.safetensors");
  EXPECT_EQ(unnamed.code, 2);
  EXPECT_TRUE(has(unnamed.err, "unnamed.safetensors") && has(unnamed.err, "'tokens'")) << unnamed.err;
  const CliResult absent = forward("absent.safetensors");
  EXPECT_EQ(absent.code, 2);
  EXPECT_TRUE(has(absent.err, "absent.safetensors")) << absent.err;

  // an output that cannot be written is a failure (1), not bad input
  write_safetensors((dir() / "ok.safetensors").string(), {{"tokens", SafeTensor::from_i64({1, 2}, std::vector<int64_t>{1, 2})}});
  const CliResult unwritable = forward_to("ok.safetensors", "no/such/dir/o.safetensors");
  EXPECT_EQ(unwritable.code, 1) << unwritable.err;
  EXPECT_TRUE(has(unwritable.err, "no/such/dir/o.safetensors")) << unwritable.err;

  // a split too large for memory is refused before anything is generated, naming the key
  const CliResult huge = run_deltabench("eval --checkpoint " + ckpt() + " --set task.test_examples=100000000000", dir());
  EXPECT_EQ(huge.code, 2) << huge.err;
  EXPECT_TRUE(has(huge.err, "task.test_examples") && has(huge.err, "GB")) << huge.err;

  // an output that is one of the inputs is refused before anything is written: the model survives
  std::ifstream model_in(checkpoint_, std::ios::binary);
  const std::string model_before((std::istreambuf_iterator<char>(model_in)), std::istreambuf_iterator<char>());
  const CliResult onto_model = forward_to("ok.safetensors", ckpt());
  EXPECT_EQ(onto_model.code, 2) << onto_model.err;
  EXPECT_TRUE(has(onto_model.err, "refusing to overwrite")) << onto_model.err;
  std::ifstream model_after_in(checkpoint_, std::ios::binary);
  EXPECT_TRUE(model_before == std::string((std::istreambuf_iterator<char>(model_after_in)), std::istreambuf_iterator<char>()));
  EXPECT_EQ(forward_to("ok.safetensors", "ok.safetensors").code, 2);

  // missing required flags are CLI errors
  EXPECT_EQ(run_deltabench("eval", dir()).code, 2);
  EXPECT_EQ(run_deltabench("forward --checkpoint " + ckpt(), dir()).code, 2);
}

}  // namespace
}  // namespace db
