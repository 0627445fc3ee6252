// results_folder.h: the folder of an experiment's results and what each run leaves in it.
//
//   <root>/experiment.yaml              copy of the experiment file (`deltabench table` reads its report)
//   <root>/runs.csv                     rebuilt from every run folder, written atomically
//   <root>/runs/<slug>-<hash>/config.yaml   the resolved config (written before training)
//   <root>/runs/<slug>-<hash>/curve.csv     per-eval metrics (the trainer writes it)
//   <root>/runs/<slug>-<hash>/...           checkpoints (the trainer writes and resumes from them)
//   <root>/runs/<slug>-<hash>/result.json   written LAST, atomically: its presence = finished
//   <root>/runs/<slug>-<hash>/failed.json   the error of a run that threw; it is retried on rerun
//
// A run is found by its hash, whatever the slug, so a profile that sweeps different axes (and so
// names folders differently) still finds and skips the same finished config.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "harness/config/resolved_config.h"
#include "harness/train/trainer.h"

namespace db {

// "<slug>-<hash>": the folder name and the run_id column
std::string run_id(const ResolvedConfig& config);

class RunStore {
 public:
  explicit RunStore(std::filesystem::path root);
  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path runs_dir() const { return root_ / "runs"; }
  std::filesystem::path runs_csv() const { return root_ / "runs.csv"; }

  // the run's folder: an existing runs/*-<hash> (found once, when first asked) or runs/<slug>-<hash>
  std::filesystem::path run_dir(const ResolvedConfig& config);
  // finished: result.json is there and reads as a run record
  static bool is_finished(const std::filesystem::path& run_dir);
  // why the run's result.json cannot be read (naming the file), or "" when it is absent or fine; such
  // a run counts as unfinished, so a rerun trains it again
  static std::string damaged_result(const std::filesystem::path& run_dir);

  // create the folder and write config.yaml
  void prepare(const std::filesystem::path& run_dir, const ResolvedConfig& config);
  // result.json (last, atomic); removes a failed.json left by an earlier attempt
  void write_result(const std::filesystem::path& run_dir, const ResolvedConfig& config, const RunOutcome& outcome);
  // failed.json with the message; no result.json, so a rerun tries again
  void write_failure(const std::filesystem::path& run_dir, const ResolvedConfig& config, const std::string& message);
  void save_experiment_copy(const std::string& text);

  // rebuild runs.csv from all runs/*/result.json (and failed.json); safe to call from several
  // threads or processes (shards) at once; returns the number of rows. `left_out` receives each run
  // folder that has no row, with the reason (unfinished, or its record unreadable)
  size_t rebuild_runs_csv(std::vector<std::string>* left_out = nullptr);

 private:
  std::filesystem::path root_;
  std::mutex mutex_;
  bool indexed_ = false;
  std::map<std::string, std::filesystem::path> by_hash_;
};

// the rows runs.csv would hold for the run folders under `runs_dir`, as CSV text
std::string runs_csv_text(const std::filesystem::path& runs_dir, size_t* row_count = nullptr,
                          std::vector<std::string>* left_out = nullptr);

}  // namespace db
