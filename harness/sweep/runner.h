// runner.h: run this shard's part of an expanded sweep, skipping finished runs.
//
// For each run (in expansion order, `jobs` at a time) the runner finds its folder, skips it when
// result.json exists, else writes config.yaml and calls `train(config, run_dir, hooks)`; the
// trainer writes curve.csv and any checkpoints into run_dir and resumes from them when a previous
// attempt was killed. The runner then writes result.json last (atomically) and rebuilds runs.csv.
// A trainer that throws is recorded as `failed` (failed.json; retried on the next invocation) and
// the sweep goes on; a trainer that returns status "diverged" is a finished run like any other.
#pragma once

#include <cstddef>
#include <filesystem>
#include <atomic>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "harness/config/resolved_config.h"
#include "harness/sweep/results_folder.h"
#include "harness/sweep/shard.h"
#include "harness/train/trainer.h"

namespace db {

// db::train_run in the program; tests inject fakes
using TrainFunction =
    std::function<RunOutcome(const ResolvedConfig&, const std::filesystem::path& run_dir, const TrainHooks&)>;

struct SweepRunOptions {
  int jobs = 1;                // runs trained at the same time
  std::vector<int> gpu_of_slot;  // [jobs]: the GPU each job slot's cuda runs use (job_slots.h); empty = GPU 0
  Shard shard;                 // this process's slice
  bool quiet = false;          // no progress lines
  bool live_progress = false;  // the trainer may redraw one line (stderr is a terminal, jobs == 1)
  int cores = 0;               // cores to share between jobs; 0 = usable_cores()
  bool restart_damaged = false;  // TrainHooks::restart_damaged for every run
  // once true, no run starts and runs in flight stop at a checkpoint (harness/sweep/interrupt.h)
  const std::atomic<bool>* stop = nullptr;
};

// The cores this process may run on: its affinity mask (taskset, a Slurm cpuset), which can be fewer
// than the machine has; OpenMP's default team size follows the same mask.
int usable_cores();

struct SweepSummary {
  size_t in_shard = 0, done = 0, diverged = 0, failed = 0, skipped = 0;
  size_t interrupted = 0;  // stopped at a checkpoint, or never started, after a stop request
  std::string line() const;  // "12 runs: 9 done, 1 diverged, 1 failed, 1 skipped (finished before)"
};

SweepSummary run_sweep(const std::vector<ResolvedConfig>& runs, RunStore& store, const TrainFunction& train,
                       const SweepRunOptions& options, std::ostream& log);

}  // namespace db
