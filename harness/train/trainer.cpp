// trainer.cpp: the training loop of one run (see trainer.h).
//
// Everything that decides the trajectory is a function of (config, seed, step): the data of an
// epoch (fixed, or fresh per epoch for state tracking), its order, the learning rate. So a run
// resumed from a checkpoint at step s continues exactly as the uninterrupted run would, and
// evaluation (which draws nothing random) can happen at any cadence without changing training.
#include "harness/train/trainer.h"

#include <omp.h>
#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include "common/rng.h"
#include "common/atomic_file.h"
#include "harness/train/batching.h"
#include "harness/train/checkpoint.h"
#include "harness/train/evaluation.h"
#include "harness/train/training_backend.h"
#include "harness/train/fla_config.h"
#include "models/backbones/model.h"
#include "models/optim/adamw.h"
#include "models/optim/schedule.h"
#include "tasks/task.h"

namespace db {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 60) return fmt::format("{:.0f}s", s);
  if (s < 3600) return fmt::format("{}m{:02.0f}s", int(s / 60), std::fmod(s, 60));
  return fmt::format("{}h{:02d}m", int(s / 3600), int(std::fmod(s, 3600) / 60));
}

std::string format_rate(double tokens_per_s) {
  return tokens_per_s >= 1e3 ? fmt::format("{:.1f}k", tokens_per_s / 1e3) : fmt::format("{:.0f}", tokens_per_s);
}

// curve.csv: one row per evaluation; on resume, rows after the checkpoint's step are dropped
class CurveWriter {
 public:
  CurveWriter(const fs::path& path, int64_t resume_step) : path_(path) {
    std::vector<std::string> keep;
    if (resume_step > 0 && fs::exists(path)) {
      std::ifstream in(path);
      std::string line;
      for (int number = 1; std::getline(in, line); ++number) {
        if (keep.empty() || line.empty()) {
          keep.push_back(line);
          continue;
        }
        int64_t step = 0;
        const std::string_view first(line.data(), std::min(line.find(','), line.size()));
        const auto [end, ec] = std::from_chars(first.data(), first.data() + first.size(), step);
        if (ec != std::errc() || end != first.data() + first.size())
          throw std::runtime_error(fmt::format("{}:{}: not a curve row (it should start with a step): '{}'", path.string(),
                                               number, line.substr(0, 60)));
        if (step <= resume_step) keep.push_back(line);
      }
    }
    out_.open(path, std::ios::trunc);
    if (keep.empty()) keep.push_back("step,epoch,lr,train_loss,test_loss,score,accuracy,tokens_per_s,train_seconds");
    for (const auto& l : keep) out_ << l << '\n';
    out_.flush();
  }
  void row(int64_t step, double epoch, double lr, double train_loss, double test_loss, double score, double accuracy,
           double tps, double seconds) {
    out_ << fmt::format("{},{:.4f},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.1f},{:.2f}\n", step, epoch, lr, train_loss,
                        test_loss, score, accuracy, tps, seconds);
    out_.flush();
  }

 private:
  fs::path path_;
  std::ofstream out_;
};

double metric_or_nan(const EvalMetrics& m, const char* key) {
  auto it = m.scalars.find(key);
  return it == m.scalars.end() ? std::nan("") : it->second;
}

}  // namespace

// moves `files` into a new <run_dir>/damaged-<n>/ and returns that folder
fs::path set_aside_damaged_checkpoint(const fs::path& run_dir, const std::vector<fs::path>& files) {
  fs::path aside;
  for (int n = 1; fs::exists(aside = run_dir / fmt::format("damaged-{}", n)); ++n) {
  }
  fs::create_directories(aside);
  for (const auto& f : files)
    if (fs::exists(f)) fs::rename(f, aside / f.filename());
  return aside;
}

// cfg was validated when it was resolved (harness/config/config_checks.cpp); nothing is checked again here
RunOutcome train_run(const ResolvedConfig& cfg, const fs::path& run_dir, const TrainHooks& hooks) {
  if (hooks.threads > 0) omp_set_num_threads(hooks.threads);
  const auto wall_start = Clock::now();
  const Options& tr = cfg.train;
  auto task = create_task(cfg.task_name, cfg.task);
  const ModelConfig mc = ModelConfig::from_options(cfg.model, cfg.mixers, task->vocab_size(), task->max_input_length());
  Model model(mc);
  model.initialize(derive_seed(cfg.seed, "init"));

  const int64_t batch_size = tr.get_int("batch_size");
  const int64_t eval_batch = tr.get_int("eval_batch_size") > 0 ? tr.get_int("eval_batch_size") : batch_size;
  const int64_t n_train = task->split_size(Split::train);
  const int64_t steps_per_epoch = (n_train + batch_size - 1) / batch_size;
  int64_t total_steps = tr.get_int("steps");
  int64_t epochs = tr.get_int("epochs");
  if (total_steps <= 0) total_steps = epochs * steps_per_epoch;
  if (epochs <= 0) epochs = (total_steps + steps_per_epoch - 1) / steps_per_epoch;

  LrSchedule schedule;
  schedule.kind = tr.get_string("schedule");
  schedule.lr = tr.get_double("lr");
  schedule.min_lr = tr.get_double("min_lr");
  schedule.warmup_steps = tr.get_int("warmup_steps") > 0
                              ? tr.get_int("warmup_steps")
                              : static_cast<int64_t>(std::llround(tr.get_double("warmup_fraction") * total_steps));
  schedule.total_steps = total_steps;
  schedule.steps_per_epoch = steps_per_epoch;
  schedule.epochs = epochs;
  const auto& betas = tr.get_list("betas");
  AdamW optimizer(model.params(), {betas[0], betas[1], tr.get_double("eps"), tr.get_double("weight_decay")});
  const double grad_clip = tr.get_double("grad_clip");
  const double early_stop = tr.get_double("early_stop");
  const int64_t eval_interval = tr.get_int("eval_interval");
  const int64_t eval_cap = tr.get_int("eval_examples");
  const int64_t checkpoint_interval = tr.get_int("checkpoint_interval");
  const bool shuffle = tr.get_bool("shuffle");

  const uint64_t train_seed = split_seed(cfg.seed, Split::train);
  const uint64_t test_seed = split_seed(cfg.seed, Split::test);
  const std::vector<Example> test = task->generate(Split::test, test_seed, 0, task->split_size(Split::test));
  const std::vector<Example> test_head(test.begin(),
                                       test.begin() + (eval_cap > 0 ? std::min<int64_t>(eval_cap, test.size()) : test.size()));

  // resume
  fs::create_directories(run_dir);
  const fs::path model_path = run_dir / "model.safetensors", state_path = run_dir / "state.safetensors";
  ModelRecipe recipe{cfg.task_name, cfg.task, cfg.model, cfg.mixers, cfg.seed, 0};
  int64_t step = 0, tokens_seen = 0;
  double train_seconds = 0.0;
  double loss_window = 0.0;
  int64_t loss_window_steps = 0;
  if (fs::exists(model_path) && fs::exists(state_path)) {
    try {
      // the two files are written one after the other; a kill in between leaves them at different
      // steps, and then the only consistent choice is to start again
      const int64_t model_step = read_checkpoint_recipe(model_path).step;
      const TrainingState s = load_training_state(state_path, optimizer);
      if (model_step == s.step) {
        load_model_checkpoint(model_path, model);
        step = s.step, train_seconds = s.train_seconds, tokens_seen = s.tokens_seen;
        loss_window = s.loss_window, loss_window_steps = s.loss_window_steps;
        if (!hooks.quiet) fmt::print(stderr, "{}: resuming from step {}\n", hooks.progress_label, step);
      } else {
        optimizer.reset();
        if (!hooks.quiet)
          fmt::print(stderr, "{}: checkpoint files disagree (model step {}, state step {}); starting again\n",
                     hooks.progress_label, model_step, s.step);
      }
    } catch (const std::exception& e) {
      if (!hooks.restart_damaged)
        throw std::runtime_error(fmt::format("{}; the run cannot resume from its checkpoint: rerun with --restart-damaged to "
                                             "train it from scratch (the damaged files are kept aside)", e.what()));
      const fs::path aside = set_aside_damaged_checkpoint(run_dir, {model_path, state_path});
      model.initialize(derive_seed(cfg.seed, "init"));
      optimizer.reset();
      step = 0, train_seconds = 0.0, tokens_seen = 0, loss_window = 0.0, loss_window_steps = 0;
      if (!hooks.quiet) fmt::print(stderr, "{}: {}; moved to {}, starting again\n", hooks.progress_label, e.what(), aside.string());
    }
  }
  // built after the resume so that a GPU backend uploads the resumed weights and moments
  const std::unique_ptr<TrainingBackend> backend = make_training_backend(
      BackendOptions{tr.get_string("device"), hooks.gpu, tr.get_string("precision"), grad_clip}, model, optimizer);
  auto write_checkpoint = [&](int64_t at_step) {
    backend->to_host();
    recipe.step = at_step;
    save_model_checkpoint(model_path, model, recipe, {{"experiment", cfg.experiment}, {"config_hash", cfg.hash}});
    save_training_state(state_path, optimizer, {at_step, train_seconds, tokens_seen, loss_window, loss_window_steps});
  };
  // config.json lets fla's AutoModelForCausalLM open model.safetensors where fla has such a model
  if (const FlaConfig fla = fla_config(mc); fla.json) write_file_atomically(run_dir / "config.json", fla.json->dump(2) + "\n");
  CurveWriter curve(run_dir / "curve.csv", step);

  RunOutcome outcome;
  outcome.num_params = model.num_params();
  outcome.state_size = model.reported_state_size(task->max_input_length());

  std::vector<Example> epoch_data;
  int64_t epoch_loaded = -1;
  std::vector<int64_t> order;
  Batch batch;
  double last_train_loss = std::nan(""), last_score = std::nan("");
  Evaluation last_eval;
  bool last_eval_is_full = false;
  auto last_print = Clock::now();

  auto evaluate = [&](bool full) {
    const EvalForward forward = [&](const Batch& b, int32_t* predictions) { return backend->evaluate_batch(b, predictions); };
    last_eval = evaluate_model(forward, *task, full ? test : test_head, static_cast<int>(eval_batch));
    last_eval_is_full = full || test_head.size() == test.size();
    last_score = metric_or_nan(last_eval.metrics, "score");
    return last_eval;
  };

  // Steps are queued on the backend and their losses taken every steps_per_loss_read() steps and
  // before anything that reads the state (an evaluation, a checkpoint, the end), always at the same
  // steps, so a run's bits do not depend on timing. A non-finite loss ends the run at that step.
  const int64_t loss_read_interval = std::max<int64_t>(1, backend->steps_per_loss_read());
  int64_t losses_taken_through = step;  // steps whose losses are in loss_window
  double last_loss = std::nan("");
  auto take_losses = [&] {
    for (const double loss : backend->take_losses()) {
      if (!std::isfinite(loss)) {
        step = losses_taken_through;  // the steps before it are the run's
        outcome.status = "diverged";
        return false;
      }
      ++losses_taken_through;
      loss_window += loss;
      ++loss_window_steps;
      last_loss = loss;
    }
    return true;
  };

  bool stopped_early = false;
  while (step < total_steps) {
    if (hooks.stop_requested && hooks.stop_requested()) {
      if (!take_losses()) break;
      write_checkpoint(step);
      outcome.status = "interrupted";
      outcome.steps = step;
      return outcome;
    }
    const int64_t epoch = step / steps_per_epoch;
    if (epoch != epoch_loaded) {
      if (task->fresh_train_data() || epoch_data.empty())
        epoch_data = task->generate(Split::train, task->fresh_train_data() ? derive_seed(train_seed, fmt::format("epoch{}", epoch)) : train_seed, 0, n_train);
      order.resize(epoch_data.size());
      std::iota(order.begin(), order.end(), 0);
      if (shuffle) {
        Rng rng(derive_seed(cfg.seed, fmt::format("shuffle{}", epoch)));
        rng.shuffle(order);
      }
      epoch_loaded = epoch;
    }
    // the time of a step is that of building its batch and queueing it, plus any wait for the losses
    const auto t0 = Clock::now();
    const int64_t first = (step % steps_per_epoch) * batch_size;
    const int64_t count = std::min<int64_t>(batch_size, static_cast<int64_t>(order.size()) - first);
    make_batch(epoch_data, std::span<const int64_t>(order.data() + first, count), task->pad_token(), batch);
    const double lr = schedule.at(step);
    backend->train_step(batch, lr);
    tokens_seen += int64_t(batch.B) * batch.T;
    ++step;

    const bool epoch_end = step % steps_per_epoch == 0;
    const bool do_eval = step == total_steps || (eval_interval > 0 ? step % eval_interval == 0 : epoch_end);
    const bool do_checkpoint = checkpoint_interval > 0 && step % checkpoint_interval == 0 && step < total_steps;
    const bool read_losses = do_eval || do_checkpoint || step % loss_read_interval == 0;
    if (read_losses && !take_losses()) break;
    train_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    if (do_eval) {
      last_train_loss = loss_window / std::max<int64_t>(1, loss_window_steps);
      loss_window = 0.0, loss_window_steps = 0;
      const Evaluation& e = evaluate(step == total_steps);
      const double tps = tokens_seen / std::max(train_seconds, 1e-9);
      curve.row(step, double(step) / steps_per_epoch, lr, last_train_loss, e.loss, last_score,
                metric_or_nan(e.metrics, "accuracy"), tps, train_seconds);
      if (early_stop > 0 && last_score > early_stop) stopped_early = true;
    }
    if (!hooks.quiet && read_losses && (do_eval || Clock::now() - last_print > std::chrono::seconds(5))) {
      last_print = Clock::now();
      const double tps = tokens_seen / std::max(train_seconds, 1e-9);
      const double eta = (total_steps - step) * (train_seconds / std::max<int64_t>(1, step));
      const std::string line =
          fmt::format("{} step {}/{} loss {:.4f} score {:.4f} lr {:.2e} {} tok/s ETA {}", hooks.progress_label, step,
                      total_steps, last_loss, last_score, lr, format_rate(tps), format_duration(eta));
      if (hooks.live)
        fmt::print(stderr, "\r\033[K{}", line);
      else
        fmt::print(stderr, "{}\n", line);
    }
    if (do_checkpoint) write_checkpoint(step);
    if (stopped_early) break;
  }
  if (hooks.live && !hooks.quiet) fmt::print(stderr, "\n");

  if (outcome.status != "diverged") {
    if (!last_eval_is_full) evaluate(true);
    write_checkpoint(step);
  }
  outcome.metrics = last_eval.metrics.scalars;
  outcome.metrics["test_loss"] = last_eval.metrics.scalars.empty() ? std::nan("") : last_eval.loss;
  outcome.metrics["train_loss"] = last_train_loss;
  outcome.metrics["stopped_early"] = stopped_early ? 1.0 : 0.0;
  outcome.curves = last_eval.metrics.curves;
  outcome.steps = step;
  outcome.tokens_per_s = tokens_seen / std::max(train_seconds, 1e-9);
  outcome.wall_s = std::chrono::duration<double>(Clock::now() - wall_start).count();
  return outcome;
}

}  // namespace db
