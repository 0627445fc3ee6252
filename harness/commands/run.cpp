// run.cpp: the `run` subcommand (see run.h).
#include "harness/commands/run.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "harness/config/experiment_file.h"
#include "harness/sweep/expansion.h"
#include "harness/sweep/folder_lock.h"
#include "harness/sweep/interrupt.h"
#include "harness/sweep/job_slots.h"
#include "harness/sweep/results_folder.h"
#include "harness/sweep/sweep_listing.h"
#include "harness/train/device_support.h"

namespace db {

namespace {

// After a sweep, draw the paper-shaped figures into <root>/plots with plots/plot_results.py, when
// Debian's python3 with matplotlib is there. Plotting is a convenience: a failure only warns.
void plot_results(const std::filesystem::path& root, bool quiet, std::ostream& err) {
#ifdef DELTABENCH_SOURCE_DIR
  namespace fs = std::filesystem;
  const std::string python = "/usr/bin/python3";
  const fs::path script = fs::path(DELTABENCH_SOURCE_DIR) / "plots" / "plot_results.py";
  std::error_code ec;
  if (!fs::exists(python, ec) || !fs::exists(script, ec)) return;
  if (std::system((python + " -c 'import matplotlib' >/dev/null 2>&1").c_str()) != 0) return;
  auto quote = [](const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  // the script lists the PNGs on stdout (dropped: one line here says where they went) and notes
  // skipped figures on stderr (kept unless --quiet)
  const std::string command =
      python + " " + quote(script.string()) + " " + quote(root.string()) + " >/dev/null" + (quiet ? " 2>&1" : "");
  err.flush();
  const int status = std::system(command.c_str());
  if (status != 0)
    err << "warning: " << script.string() << " failed (exit "
        << (WIFEXITED(status) ? WEXITSTATUS(status) : status) << "); the results themselves are fine\n";
  else if (!quiet && fs::is_directory(root / "plots", ec))
    err << "plots in " << (root / "plots").string() << '\n';
#else
  (void)root, (void)quiet, (void)err;
#endif
}

// --jobs and --runs-per-gpu against the GPUs this process sees, asked only when a run uses one
JobSlots plan_slots(const RunCommandArgs& args, const Expansion& expansion) {
  JobSlotRequest request;
  request.jobs = args.jobs;
  request.runs_per_gpu = args.runs_per_gpu;
  request.uses_gpu = std::any_of(expansion.runs.begin(), expansion.runs.end(),
                                 [](const ResolvedConfig& run) { return run.train.get_string("device") == "cuda"; });
  request.gpus = !request.uses_gpu ? 0 : args.gpus >= 0 ? args.gpus : visible_gpu_count();
  request.cores = usable_cores();
  try {
    return plan_job_slots(request);
  } catch (const std::invalid_argument& e) {
    throw ExperimentError(Origin::from_cli(fmt::format("--runs-per-gpu {}", args.runs_per_gpu)), "", e.what());
  }
}

}  // namespace

int run_command(const RunCommandArgs& args, const TrainFunction& train, const ComponentCatalog& catalog,
                std::ostream& out, std::ostream& err) {
  Expansion expansion;
  Experiment experiment;
  Shard shard;
  JobSlots slots;
  try {
    if (args.jobs < 0) throw ExperimentError(Origin::from_cli(fmt::format("--jobs {}", args.jobs)), "", "must be at least 1");
    experiment = load_experiment(args.file);
    expansion = expand_experiment(experiment, ExpandOptions{args.profile, args.sets}, catalog);
    shard = choose_shard(args.shard, args.env);
    slots = plan_slots(args, expansion);
  } catch (const ExperimentError& e) {
    err << "error: " << e.what() << '\n';
    return 2;
  }

  if (args.dry_run) {
    out << dry_run_listing(expansion, shard);
    return 0;
  }
  if (slots.uses_gpu && slots.gpus == 0) {
    // refused before the results folder is touched, rather than every run failing on its own
    err << "error: the sweep trains on cuda (train.device) but no GPU is visible to this process"
           " (check CUDA_VISIBLE_DEVICES and the driver); --dry-run still lists it\n";
    return 1;
  }

  const std::filesystem::path root = args.out.empty() ? std::filesystem::path("results") / experiment.name : args.out;
  if (!args.quiet) {
    err << fmt::format("{}: {} runs{}{}, {} -> {}\n", experiment.name, expansion.runs.size(),
                       args.profile.empty() ? "" : " (profile " + args.profile + ")",
                       shard.count > 1 ? ", shard " + shard.describe() : "", slots.describe(), root.string());
    err << settings_table(expansion);
  }
  try {
    const ResultsFolderLock lock(root, shard);
    RunStore store(root);
    store.save_experiment_copy(experiment.text);
    SweepRunOptions options;
    options.jobs = slots.jobs;
    options.gpu_of_slot = slots.gpu_of_slot;
    options.shard = shard;
    options.quiet = args.quiet;
    options.restart_damaged = args.restart_damaged;
    options.stop = &stop_flag();
    options.live_progress = !args.quiet && ::isatty(2);
    const SweepSummary summary = run_sweep(expansion.runs, store, train, options, err);
    if (!args.quiet) err << summary.line() << "; results in " << store.runs_csv().string() << '\n';
    if (stop_flag().load()) {
      err << fmt::format("interrupted: {} finished runs are in {}; the same command resumes the rest from their checkpoints\n",
                         summary.done + summary.diverged + summary.skipped, store.runs_csv().string());
      return 130;
    }
    plot_results(root, args.quiet, err);
    return summary.failed > 0 ? 1 : 0;
  } catch (const std::exception& e) {
    err << "error: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace db
