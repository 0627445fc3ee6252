// run_command.cpp: the `run` subcommand (see run_command.h).
#include "harness/run_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include "harness/experiment_file.h"
#include "harness/run_store.h"
#include "harness/settings_table.h"
#include "harness/sweep_expander.h"

namespace db {

int run_command(const RunCommandArgs& args, const TrainFunction& train, const ComponentCatalog& catalog,
                std::ostream& out, std::ostream& err) {
  Expansion expansion;
  Experiment experiment;
  Shard shard;
  try {
    if (args.jobs < 1) throw ExperimentError(Origin::from_cli(fmt::format("--jobs {}", args.jobs)), "", "must be at least 1");
    experiment = load_experiment(args.file);
    expansion = expand_experiment(experiment, ExpandOptions{args.profile, args.sets}, catalog);
    shard = choose_shard(args.shard, args.env);
  } catch (const ExperimentError& e) {
    err << "error: " << e.what() << '\n';
    return 2;
  }

  if (args.dry_run) {
    out << dry_run_listing(expansion, shard);
    return 0;
  }

  const std::filesystem::path root = args.out.empty() ? std::filesystem::path("results") / experiment.name : args.out;
  if (!args.quiet) {
    err << fmt::format("{}: {} runs{}{} -> {}\n", experiment.name, expansion.runs.size(),
                       args.profile.empty() ? "" : " (profile " + args.profile + ")",
                       shard.count > 1 ? ", shard " + shard.describe() : "", root.string());
    err << settings_table(expansion);
  }
  try {
    RunStore store(root);
    store.save_experiment_copy(experiment.text);
    SweepRunOptions options;
    options.jobs = args.jobs;
    options.shard = shard;
    options.quiet = args.quiet;
    options.live_progress = !args.quiet && ::isatty(2);
    const SweepSummary summary = run_sweep(expansion.runs, store, train, options, err);
    if (!args.quiet) err << summary.line() << "; results in " << store.runs_csv().string() << '\n';
    return summary.failed > 0 ? 1 : 0;
  } catch (const std::exception& e) {
    err << "error: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace db
