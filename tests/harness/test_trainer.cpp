// test_trainer.cpp: the real trainer (train_run) and model checkpoints on a tiny MQAR run with the
// real task and mixer registries: training is deterministic, a run resumed from a mid-run checkpoint
// ends bit-identical to an uninterrupted one, a checkpoint round trip reproduces the logits bitwise,
// a diverging run reports "diverged" instead of throwing, and a damaged or mismatched checkpoint is
// refused with a message naming the file and the tensor.
//
// The tiny run (256 training examples, batch 32: 8 steps per epoch, 2 epochs) trains in well under a
// second on one thread, so each property is checked on a complete run rather than a mock.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/rng.h"
#include "common/safetensors.h"
#include "common/atomic_file.h"
#include "harness/train/checkpoint.h"
#include "harness/config/experiment_file.h"
#include "harness/sweep/expansion.h"
#include "harness/train/trainer.h"
#include "harness_test_support.h"
#include "tiny_run.h"
#include "models/backbones/model.h"
#include "tasks/task.h"

namespace db {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

using test::tiny_config;

TrainHooks quiet_hooks() {
  TrainHooks h;
  h.quiet = true;
  h.threads = 1;  // one thread: the test does not depend on the machine's core count
  return h;
}

// curve.csv without its two wall-clock columns (tokens_per_s, train_seconds), which measure the
// machine, not the trajectory; everything else (step, epoch, lr, losses, score, accuracy) must match
std::vector<std::string> curve_without_timing(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> rows;
  std::string line;
  while (std::getline(in, line)) {
    size_t cut = line.size();
    for (int i = 0; i < 2 && cut != std::string::npos; ++i) cut = line.rfind(',', cut - 1);
    rows.push_back(line.substr(0, cut));
  }
  return rows;
}

// metrics that describe the model (not timing); NaN compares equal to NaN
void expect_same_metrics(const RunOutcome& a, const RunOutcome& b) {
  ASSERT_EQ(a.metrics.size(), b.metrics.size());
  for (const auto& [k, v] : a.metrics) {
    ASSERT_TRUE(b.metrics.count(k)) << k;
    const double w = b.metrics.at(k);
    EXPECT_TRUE(v == w || (std::isnan(v) && std::isnan(w))) << k << ": " << v << " vs " << w;
  }
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.status, b.status);
}

TEST(Trainer, TrainingIsDeterministic) {
  TempDir tmp;
  const ResolvedConfig cfg = tiny_config();
  const RunOutcome a = train_run(cfg, tmp.path / "a", quiet_hooks());
  const RunOutcome b = train_run(cfg, tmp.path / "b", quiet_hooks());
  EXPECT_EQ(a.status, "done");
  EXPECT_EQ(a.steps, 16);
  expect_same_metrics(a, b);
  const auto curve_a = curve_without_timing(tmp.path / "a" / "curve.csv");
  EXPECT_EQ(curve_a.size(), 3u);  // header + one evaluation per epoch
  EXPECT_EQ(curve_a, curve_without_timing(tmp.path / "b" / "curve.csv"));
  const std::string model_a = read_text_file(tmp.path / "a" / "model.safetensors");
  EXPECT_FALSE(model_a.empty());
  EXPECT_TRUE(model_a == read_text_file(tmp.path / "b" / "model.safetensors")) << "model.safetensors differs";
  // training moved the parameters away from their initialisation
  EXPECT_NE(read_checkpoint_recipe(tmp.path / "a" / "model.safetensors").step, 0);
}

// Trains `full` in <root>/b, which holds a step-3 checkpoint, and checks that it says it resumes from
// step 3 and ends with the metrics and the model bytes of the uninterrupted run `a` in <root>/a.
void resume_and_expect_the_uninterrupted_run(const ResolvedConfig& full, const fs::path& root, const RunOutcome& a) {
  TrainHooks talk = quiet_hooks();
  talk.quiet = false;
  talk.progress_label = "b";
  testing::internal::CaptureStderr();
  const RunOutcome b = train_run(full, root / "b", talk);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("b: resuming from step 3"), std::string::npos) << log;

  expect_same_metrics(a, b);
  EXPECT_TRUE(read_text_file(root / "a" / "model.safetensors") == read_text_file(root / "b" / "model.safetensors"))
      << "the resumed run's model.safetensors differs from the uninterrupted run's";
}

// Resume, with the interruption made deterministic: run B uses the same config plus a tiny
// train.early_stop, so it stops at its first evaluation (step k, mid-epoch) and writes exactly the
// checkpoint an interrupted run leaves at step k (model + optimizer state + curve up to k).
// early_stop only decides WHEN to stop, never how a step is taken, so the trajectory up to k is the
// uninterrupted run's. B is then rerun in the same folder with A's config: it must load the
// step-k checkpoint (checked on the "resuming from step k" line) and finish bit-identical to A.
// A cosine schedule over the full length is kept, so the resumed lr, AdamW moments and bias
// correction, and the mid-epoch data position all have to be restored for the bytes to match.
TEST(Trainer, BitsDoNotDependOnTheThreadCount) {
  // wide enough that every parallel region opens (GEMMs, the LM head's row groups, the mixers'
  // loops over sequences), so a split that followed the thread count would show in the weights
  for (const char* mixer : {"deltanet", "gated_deltanet"}) {
    TempDir tmp;
    const ResolvedConfig cfg =
        tiny_config({"task.vocab_size=512", "task.seq_len=64", "task.num_kv_pairs=8", "task.train_examples=128",
                     "model.d_model=64", "model.mlp=swiglu", "train.epochs=1", fmt::format("model.mixer.name={}", mixer)});
    std::vector<std::string> weights;
    for (int threads : {1, 2, 3}) {
      TrainHooks hooks = quiet_hooks();
      hooks.threads = threads;
      const fs::path dir = tmp.path / std::to_string(threads);
      EXPECT_EQ(train_run(cfg, dir, hooks).status, "done");
      weights.push_back(read_text_file(dir / "model.safetensors"));
      EXPECT_EQ(curve_without_timing(dir / "curve.csv"), curve_without_timing(tmp.path / "1" / "curve.csv")) << mixer;
    }
    EXPECT_GT(weights[0].size(), 100000u);
    EXPECT_TRUE(weights[0] == weights[1]) << mixer << ": 1 and 2 threads trained different weights";
    EXPECT_TRUE(weights[0] == weights[2]) << mixer << ": 1 and 3 threads trained different weights";
  }
}

TEST(Trainer, WritesAnFlaConfigWhereFlaHasTheModel) {
  TempDir tmp;
  ASSERT_EQ(train_run(tiny_config({"model.mlp=swiglu"}), tmp.path / "fla", quiet_hooks()).status, "done");
  const auto config = nlohmann::json::parse(read_text_file(tmp.path / "fla" / "config.json"));
  EXPECT_EQ(config.at("model_type"), "delta_net");
  EXPECT_EQ(config.at("hidden_size"), 16);
  EXPECT_EQ(config.at("num_heads"), 2);
  EXPECT_EQ(config.at("expand_k"), 1.0);
  EXPECT_EQ(config.at("vocab_size"), 64);
  EXPECT_EQ(config.at("allow_neg_eigval"), false);
  EXPECT_EQ(config.at("intermediate_size"), 256);  // fla's rule: 256 * ceil(int(8 * 16 / 3) / 256)

  const ResolvedConfig product = tiny_config({"model.mlp=swiglu", "model.mixer={name: deltaproduct, num_heads: 2, householder: 3, use_forget_gate: true}"});
  ASSERT_EQ(train_run(product, tmp.path / "product", quiet_hooks()).status, "done");
  const auto p = nlohmann::json::parse(read_text_file(tmp.path / "product" / "config.json"));
  EXPECT_EQ(p.at("model_type"), "gated_deltaproduct");
  EXPECT_EQ(p.at("num_householder"), 3);
  EXPECT_EQ(p.at("use_forget_gate"), true);
  EXPECT_EQ(p.at("allow_neg_eigval"), true);
  EXPECT_EQ(p.at("head_dim"), 8);

  // Zoology's MQAR scaffold has no MLP, which fla's models always have: no config rather than a wrong one
  ASSERT_EQ(train_run(tiny_config(), tmp.path / "zoology", quiet_hooks()).status, "done");
  EXPECT_FALSE(fs::exists(tmp.path / "zoology" / "config.json"));
  EXPECT_TRUE(fs::exists(tmp.path / "zoology" / "model.safetensors"));
}

TEST(Trainer, ResumeFromMidRunCheckpointEqualsUninterruptedRun) {
  TempDir tmp;
  const std::vector<std::string> every3{"train.eval_interval=3", "train.checkpoint_interval=3"};
  const ResolvedConfig full = tiny_config(every3);
  std::vector<std::string> stop_sets = every3;
  stop_sets.push_back("train.early_stop=1e-9");
  const ResolvedConfig stop_at_first_eval = tiny_config(stop_sets);

  const RunOutcome a = train_run(full, tmp.path / "a", quiet_hooks());
  ASSERT_EQ(a.steps, 16);

  const RunOutcome first = train_run(stop_at_first_eval, tmp.path / "b", quiet_hooks());
  // the interruption really happened at step 3 (needs a score > 0 at the first evaluation)
  ASSERT_EQ(first.steps, 3) << "the early stop did not trigger at the first evaluation; pick another k";
  ASSERT_EQ(read_checkpoint_recipe(tmp.path / "b" / "model.safetensors").step, 3);
  ASSERT_TRUE(fs::exists(tmp.path / "b" / "state.safetensors"));
  EXPECT_TRUE(read_text_file(tmp.path / "a" / "model.safetensors") != read_text_file(tmp.path / "b" / "model.safetensors"));

  resume_and_expect_the_uninterrupted_run(full, tmp.path, a);
  EXPECT_EQ(curve_without_timing(tmp.path / "a" / "curve.csv"), curve_without_timing(tmp.path / "b" / "curve.csv"));
}

// The same, resuming from a checkpoint that is NOT at an evaluation step: a constant schedule makes
// the trajectory independent of the run length, so a run with train.steps=3 leaves exactly the
// step-3 checkpoint of the 16-step run. Only model.safetensors and state.safetensors are copied into
// a fresh folder (as if the run had been killed right after writing them), then the 16-step config
// resumes there. The final model and the final metrics must equal the uninterrupted run's.
TEST(Trainer, ResumeFromCopiedCheckpointFilesEqualsUninterruptedRun) {
  TempDir tmp;
  const ResolvedConfig full = tiny_config({"train.schedule=constant", "train.checkpoint_interval=3"});
  const ResolvedConfig three = tiny_config({"train.schedule=constant", "train.epochs=0", "train.steps=3"});
  const RunOutcome a = train_run(full, tmp.path / "a", quiet_hooks());
  const RunOutcome c = train_run(three, tmp.path / "c", quiet_hooks());
  ASSERT_EQ(c.steps, 3);
  fs::create_directories(tmp.path / "b");
  for (const char* f : {"model.safetensors", "state.safetensors"}) fs::copy_file(tmp.path / "c" / f, tmp.path / "b" / f);

  resume_and_expect_the_uninterrupted_run(full, tmp.path, a);
  // the last evaluation (step 16) sees the same model and the same loss window (steps 9..16)
  EXPECT_EQ(curve_without_timing(tmp.path / "a" / "curve.csv").back(),
            curve_without_timing(tmp.path / "b" / "curve.csv").back());
}

// A stop request (Ctrl-C) between steps: the run checkpoints where it is and says "interrupted";
// resumed, it ends exactly as the run that was never stopped.
TEST(Trainer, AStopRequestCheckpointsTheRunAndAResumeEqualsTheUninterruptedRun) {
  TempDir tmp;
  const ResolvedConfig full = tiny_config();
  const RunOutcome a = train_run(full, tmp.path / "a", quiet_hooks());
  TrainHooks stopping = quiet_hooks();
  int polls = 0;
  stopping.stop_requested = [&polls] { return ++polls > 3; };  // raised before step 4
  const RunOutcome b = train_run(full, tmp.path / "b", stopping);
  EXPECT_EQ(b.status, "interrupted");
  EXPECT_EQ(b.steps, 3);
  EXPECT_EQ(read_checkpoint_recipe(tmp.path / "b" / "model.safetensors").step, 3);
  resume_and_expect_the_uninterrupted_run(full, tmp.path, a);
}

// A checkpoint that cannot be read: the error names the file and the remedy; with the remedy the
// damaged files are kept aside and the run trains from scratch, ending as a fresh run does.
TEST(Trainer, ADamagedCheckpointNamesTheRemedyWhichRestartsTheRunKeepingTheFilesAside) {
  TempDir tmp;
  const ResolvedConfig cfg = tiny_config({"train.checkpoint_interval=3"});
  const RunOutcome fresh = train_run(cfg, tmp.path / "fresh", quiet_hooks());
  TrainHooks stopping = quiet_hooks();
  stopping.stop_requested = [] { return true; };
  ASSERT_EQ(train_run(cfg, tmp.path / "b", stopping).status, "interrupted");
  std::ofstream(tmp.path / "b" / "state.safetensors", std::ios::trunc) << "not a safetensors file";
  try {
    train_run(cfg, tmp.path / "b", quiet_hooks());
    ADD_FAILURE() << "a damaged checkpoint was accepted";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("state.safetensors"), std::string::npos) << what;
    EXPECT_NE(what.find("--restart-damaged"), std::string::npos) << what;
  }
  TrainHooks restart = quiet_hooks();
  restart.restart_damaged = true;
  const RunOutcome again = train_run(cfg, tmp.path / "b", restart);
  expect_same_metrics(fresh, again);
  EXPECT_TRUE(read_text_file(tmp.path / "fresh" / "model.safetensors") == read_text_file(tmp.path / "b" / "model.safetensors"));
  EXPECT_EQ(read_text_file(tmp.path / "b" / "damaged-1" / "state.safetensors"), "not a safetensors file");
}

// a model with every parameter set, plus its recipe
struct TinyModel {
  ResolvedConfig cfg = tiny_config();
  std::unique_ptr<Task> task = create_task(cfg.task_name, cfg.task);
  ModelConfig mc = ModelConfig::from_options(cfg.model, cfg.mixers, task->vocab_size(), task->max_input_length());
  ModelRecipe recipe{cfg.task_name, cfg.task, cfg.model, cfg.mixers, cfg.seed, 5};
  std::unique_ptr<Model> fresh(uint64_t seed) const {
    auto m = std::make_unique<Model>(mc);
    m->initialize(seed);
    return m;
  }
};

std::vector<real> logits_of(Model& m, const std::vector<int32_t>& tokens, int B, int T) {
  std::vector<real> out(size_t(B) * T * m.config().vocab_size);
  m.forward_logits(tokens.data(), B, T, out.data());
  return out;
}

TEST(Checkpoint, RoundTripReproducesLogitsBitwise) {
  TempDir tmp;
  TinyModel t;
  auto saved = t.fresh(1);
  const fs::path file = tmp.path / "model.safetensors";
  save_model_checkpoint(file, *saved, t.recipe);

  // the recipe alone rebuilds the same architecture
  const ModelRecipe r = read_checkpoint_recipe(file);
  EXPECT_EQ(r.task_name, "mqar");
  EXPECT_EQ(r.step, 5);
  EXPECT_EQ(r.seed, t.cfg.seed);
  EXPECT_EQ(r.model.values(), t.cfg.model.values());
  ASSERT_EQ(r.mixers.size(), 1u);
  EXPECT_EQ(r.mixers[0].name, "deltanet");
  auto rebuilt_task = create_task(r.task_name, r.task);
  const ModelConfig mc = ModelConfig::from_options(r.model, r.mixers, rebuilt_task->vocab_size(), rebuilt_task->max_input_length());
  Model loaded(mc);
  loaded.initialize(2);  // different values, overwritten by the load
  load_model_checkpoint(file, loaded);

  const int B = 3, T = 16;
  Rng rng(11);
  std::vector<int32_t> tokens(B * T);
  for (auto& x : tokens) x = static_cast<int32_t>(rng.next_u64() % 64);
  const auto want = logits_of(*saved, tokens, B, T);
  const auto got = logits_of(loaded, tokens, B, T);
  ASSERT_EQ(want.size(), got.size());
  EXPECT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(real)), 0);
  EXPECT_NE(logits_of(*t.fresh(2), tokens, B, T), want);  // the comparison can fail
}

TEST(Trainer, DivergingRunReportsDivergedInsteadOfThrowing) {
  TempDir tmp;
  const ResolvedConfig cfg = tiny_config({"train.lr=1e30"});
  RunOutcome o;
  ASSERT_NO_THROW(o = train_run(cfg, tmp.path / "run", quiet_hooks()));
  EXPECT_EQ(o.status, "diverged");
  EXPECT_LT(o.steps, 16);
}

// rewrite `src` into `dst` with `edit` applied to its tensors
void rewrite(const fs::path& src, const fs::path& dst, const std::function<void(std::map<std::string, SafeTensor>&)>& edit) {
  SafetensorsFile f = read_safetensors(src.string());
  edit(f.tensors);
  write_safetensors(dst.string(), f.tensors, f.metadata);
}

// run `f`, expect a std::exception whose message contains every part
void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected an error mentioning " << parts.front();
  } catch (const std::exception& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << "\n  lacks: " << p;
  }
}

TEST(Checkpoint, DamagedOrMismatchedCheckpointIsRefusedNamingFileAndTensor) {
  TempDir tmp;
  TinyModel t;
  auto model = t.fresh(1);
  const fs::path good = tmp.path / "good.safetensors";
  save_model_checkpoint(good, *model, t.recipe);
  std::string victim;
  for (const auto& p : model->params().params())
    if (p.name.find("q_proj") != std::string::npos) victim = p.name;
  ASSERT_FALSE(victim.empty());

  // truncated: the file is cut in the middle of its data
  const fs::path cut = tmp.path / "truncated.safetensors";
  const std::string bytes = read_text_file(good);
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_error([&] { load_model_checkpoint(cut, *t.fresh(3)); }, {cut.string()});
  expect_error([&] { read_checkpoint_recipe(cut); }, {cut.string()});

  // a tensor missing
  const fs::path missing = tmp.path / "missing.safetensors";
  rewrite(good, missing, [&](auto& tensors) { tensors.erase(victim); });
  expect_error([&] { load_model_checkpoint(missing, *t.fresh(3)); }, {missing.string(), victim, "missing"});

  // a tensor of the wrong shape
  const fs::path wrong = tmp.path / "wrong_shape.safetensors";
  rewrite(good, wrong, [&](auto& tensors) { tensors[victim] = SafeTensor::from_f32({2, 2}, std::vector<float>(4, 0.f)); });
  expect_error([&] { load_model_checkpoint(wrong, *t.fresh(3)); }, {wrong.string(), victim, "2x2"});

  // a checkpoint of a different model (wider) into this one
  TinyModel wide;
  wide.mc.d_model = 32;
  const fs::path other = tmp.path / "other_model.safetensors";
  save_model_checkpoint(other, *wide.fresh(1), wide.recipe);
  expect_error([&] { load_model_checkpoint(other, *t.fresh(3)); }, {other.string(), "embeddings.weight"});

  // a safetensors file that is not a deltabench model
  const fs::path foreign = tmp.path / "foreign.safetensors";
  write_safetensors(foreign.string(), {{"x", SafeTensor::from_f32({1}, std::vector<float>{1.f})}});
  expect_error([&] { read_checkpoint_recipe(foreign); }, {foreign.string(), "not a deltabench model checkpoint"});
}

}  // namespace
}  // namespace db
