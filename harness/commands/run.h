// run.h: `deltabench run FILE.yaml ...`: validate, expand, print, then run a sweep.
//
// Everything is expanded and validated before the first run starts, so a typo in the last sweep
// value fails in a second, not after hours. Exit codes: 0 all runs done or diverged, 1 some run
// failed (or the results could not be written), 2 bad input (the message names file:line and key).
#pragma once

#include <filesystem>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "harness/config/component_catalog.h"
#include "harness/sweep/runner.h"

namespace db {

struct RunCommandArgs {
  std::filesystem::path file;
  std::string profile;
  std::vector<std::string> sets;  // "key=value"
  std::filesystem::path out;      // results folder; "" = results/<name>
  int jobs = 0;                   // --jobs; 0 = not given (one per core, or one per GPU for a cuda sweep)
  int runs_per_gpu = 0;           // --runs-per-gpu; 0 = not given
  std::string shard;              // "i/n"; "" = from Slurm variables or the whole sweep
  bool dry_run = false;
  bool quiet = false;
  bool restart_damaged = false;   // restart runs whose checkpoint is damaged (TrainHooks)
  std::map<std::string, std::string> env;  // Slurm variables (slurm_environment() in the program)
  int gpus = -1;                  // GPUs visible; -1 = ask CUDA (tests pass a count)
};

// `out` gets the data (dry-run listing); `err` the settings table, progress and errors
int run_command(const RunCommandArgs& args, const TrainFunction& train, const ComponentCatalog& catalog,
                std::ostream& out, std::ostream& err);

}  // namespace db
