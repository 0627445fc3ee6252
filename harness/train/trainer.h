// trainer.h: train one resolved run and score it.
//
// The sweep runner calls train_run for each unfinished run folder. It builds the task and model,
// trains (resuming from run_dir's checkpoint when one exists), evaluates on the task's test split
// and returns the outcome; the runner writes the result row last. A non-finite loss ends the run
// with status "diverged" instead of throwing.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "harness/config/resolved_config.h"

namespace db {

struct RunOutcome {
  std::string status = "done";                                // "done" or "diverged"
  std::map<std::string, double> metrics;                      // "score", "accuracy", slices ...
  std::map<std::string, std::vector<double>> curves;          // e.g. "prefix_accuracy"
  int64_t num_params = 0;
  int64_t state_size = 0;                                     // reported state numbers per sequence
  int64_t steps = 0;
  double tokens_per_s = 0.0;                                  // training tokens per second
  double wall_s = 0.0;
};

struct TrainHooks {
  bool quiet = false;          // no progress output at all
  bool live = false;           // redraw one progress line (stderr is a terminal)
  int threads = 0;             // OpenMP threads; 0 = all cores
  int gpu = 0;                 // the GPU a train.device: cuda run uses (its job slot's, job_slots.h)
  std::string progress_label;  // prefix for progress lines, e.g. the run slug
  // a checkpoint that cannot be read moves to <run>/damaged-<n>/ and the run starts again; otherwise
  // it is an error that names the file and this remedy (`deltabench run --restart-damaged`)
  bool restart_damaged = false;
  // polled before every step; once true, the run writes a checkpoint at its current step and
  // returns status "interrupted" (harness/sweep/interrupt.h)
  std::function<bool()> stop_requested;
};

RunOutcome train_run(const ResolvedConfig& config, const std::filesystem::path& run_dir, const TrainHooks& hooks);

}  // namespace db
