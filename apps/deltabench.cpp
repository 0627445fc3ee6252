// deltabench: command-line entry point (run, table, list, sample, eval, forward).
//
// Only flag parsing lives here; each subcommand is a function in harness/ so tests can call it
// directly. Exit codes everywhere: 0 success, 1 a failure while working (a run failed, a file
// could not be written), 2 bad input (flags, experiment files, --set values). Data goes to stdout;
// progress, the settings table and errors go to stderr.
#include <CLI/CLI.hpp>

#include <iostream>
#include <limits>

#include "common/version.h"
#include "harness/config/component_catalog.h"
#include "harness/sweep/interrupt.h"
#include "harness/commands/eval_forward.h"
#include "harness/commands/list.h"
#include "harness/commands/run.h"
#include "harness/commands/sample.h"
#include "harness/sweep/shard.h"
#include "harness/commands/table.h"
#include "harness/train/trainer.h"

int main(int argc, char** argv) {
  CLI::App app{"deltabench: train linear-attention-family mixers on synthetic benchmarks and tabulate the results"};
  app.set_version_flag("--version", std::string("deltabench ") + DELTABENCH_VERSION + " (git " + db::git_sha() + ")");
  app.require_subcommand(1);

  db::RunCommandArgs run;
  auto* run_cmd = app.add_subcommand("run", "run (or resume) an experiment's sweep");
  run_cmd->add_option("file", run.file, "experiment YAML file")->required()->check(CLI::ExistingFile);
  run_cmd->add_option("--profile", run.profile, "named profile of the file (e.g. quick, full)");
  run_cmd->add_option("--set", run.sets, "override a key, e.g. --set train.lr=1e-3 (repeatable)")->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  run_cmd->add_option("--out", run.out, "results folder (default results/<name>)");
  auto* jobs_option = run_cmd->add_option("--jobs", run.jobs,
                      "runs trained at the same time, each with cores/N threads (default: one per core, or for cuda runs one per visible GPU, taken in turn)")
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
  run_cmd->add_option("--runs-per-gpu", run.runs_per_gpu, "for cuda runs: train this many at once on every visible GPU (sets --jobs)")
      ->check(CLI::Range(1, 64))->excludes(jobs_option);
  run_cmd->add_option("--shard", run.shard, "run only slice i of n (0-based), e.g. 3/16; default from SLURM_ARRAY_TASK_ID/COUNT");
  std::string run_device;
  run_cmd->add_option("--device", run_device, "train on cpu or cuda (the same as --set train.device=...)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  run_cmd->add_flag("--dry-run", run.dry_run, "print the expanded runs and their count, train nothing");
  run_cmd->add_flag("--quiet", run.quiet, "no progress output");
  run_cmd->add_flag("--restart-damaged", run.restart_damaged,
                    "train runs whose checkpoint cannot be read from scratch (the damaged files are kept in the run's damaged-<n>/)");

  db::TableArgs table;
  auto* table_cmd = app.add_subcommand("table", "pivot runs.csv into table.md and table.csv (defaults from the report section)");
  table_cmd->add_option("results", table.results, "results folder (results/<name>) or a runs.csv file")->required();
  table_cmd->add_option("--rows", table.rows, "keys forming the rows, e.g. model.mixer.name")->delimiter(',');
  table_cmd->add_option("--cols", table.cols, "keys forming the columns, e.g. model.d_model")->delimiter(',');
  table_cmd->add_option("--value", table.value, "metric column shown (default report.value, else score)");
  table_cmd->add_option("--best-over", table.best_over, "keys to take the best value over, e.g. train.lr")->delimiter(',');
  table_cmd->add_option("--mean-over", table.mean_over, "keys to average over, e.g. seed")->delimiter(',');

  bool list_markdown = false;
  auto* list_cmd = app.add_subcommand("list", "list tasks, mixers and every model.* / train.* key with defaults");
  list_cmd->add_flag("--markdown", list_markdown, "print markdown tables (docs/yaml-reference.md)");

  db::SampleArgs sample;
  auto* sample_cmd = app.add_subcommand("sample", "print examples of a task");
  sample_cmd->add_option("task", sample.task, "task name (see deltabench list)")->required();
  sample_cmd->add_option("--set", sample.sets, "task option, e.g. --set seq_len=64 (repeatable)")->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sample_cmd->add_option("-n", sample.n, "number of examples")->check(CLI::NonNegativeNumber);
  sample_cmd->add_option("--split", sample.split, "train or test")->check(CLI::IsMember({"train", "test"}));
  sample_cmd->add_option("--seed", sample.seed, "base seed (as in an experiment's seeds)");
  sample_cmd->add_option("--format", sample.format, "text or jsonl")->check(CLI::IsMember({"text", "jsonl"}));

  db::EvalArgs eval;
  uint64_t eval_seed = 0;
  auto* eval_cmd = app.add_subcommand("eval", "evaluate a model checkpoint on a task split (e.g. longer sequences)");
  eval_cmd->add_option("--checkpoint", eval.checkpoint, "model.safetensors (or the run folder holding it)")->required();
  eval_cmd->add_option("--task", eval.task, "evaluate another task (default: the checkpoint's); its vocabulary must fit the model");
  eval_cmd->add_option("--set", eval.sets, "change a task key, e.g. --set task.test_min_length=256 (repeatable)")->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  eval_cmd->add_option("--split", eval.split, "train or test")->check(CLI::IsMember({"train", "test"}));
  eval_cmd->add_option("-n", eval.num_examples, "evaluate the first n examples of the split (0 = all)")->check(CLI::NonNegativeNumber);
  auto* eval_seed_opt = eval_cmd->add_option("--seed", eval_seed, "base seed of the data (default: the checkpoint's)");
  eval_cmd->add_option("--batch-size", eval.batch_size, "evaluation batch size")->check(CLI::Range(1, 1 << 20));
  eval_cmd->add_option("--threads", eval.threads, "OpenMP threads (0 = default)")->check(CLI::NonNegativeNumber);
  eval_cmd->add_flag("--json", eval.json, "print the metrics as one JSON object");

  db::ForwardArgs forward;
  auto* forward_cmd = app.add_subcommand("forward", "write a checkpoint's logits for given token ids (to compare implementations)");
  forward_cmd->add_option("--checkpoint", forward.checkpoint, "model.safetensors (or the run folder holding it)")->required();
  forward_cmd->add_option("--tokens", forward.tokens, "safetensors file with \"tokens\": I64 or I32 [B,T]")->required();
  forward_cmd->add_option("--out", forward.out, "output safetensors: \"logits\" F32 [B,T,N] + the checkpoint's metadata")->required();
  forward_cmd->add_option("--threads", forward.threads, "OpenMP threads (0 = default)")->check(CLI::NonNegativeNumber);
  forward_cmd->add_option("--device", forward.device, "cpu, or cuda: the model's GPU twin in fp32 (builds with CUDA)")
      ->check(CLI::IsMember({"cpu", "cuda"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; everything else is bad input
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    if (*run_cmd) {
      if (!run_device.empty()) run.sets.push_back("train.device=" + run_device);
      run.env = db::slurm_environment();
      db::install_stop_handlers();
      return db::run_command(run, db::train_run, db::registry_catalog(), std::cout, std::cerr);
    }
    if (*table_cmd) return db::table_command(table, std::cout, std::cerr);
    if (*list_cmd) return db::list_command(list_markdown, std::cout);
    if (*sample_cmd) return db::sample_command(sample, std::cout, std::cerr);
    if (*eval_cmd) {
      if (eval_seed_opt->count() > 0) eval.seed = eval_seed;  // unset: the checkpoint's seed
      return db::eval_command(eval, std::cout, std::cerr);
    }
    if (*forward_cmd) return db::forward_command(forward, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
  return 2;
}
