// runner.cpp: the job pool over a shard of runs (see runner.h).
#include "harness/sweep/runner.h"

#include <fmt/format.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <system_error>
#include <thread>

namespace db {

std::string SweepSummary::line() const {
  return fmt::format("{} runs: {} done, {} diverged, {} failed, {} skipped (finished before){}", in_shard, done,
                     diverged, failed, skipped, interrupted ? fmt::format(", {} interrupted", interrupted) : "");
}

namespace {

std::string outcome_note(const RunOutcome& outcome) {
  std::string note;
  if (auto it = outcome.metrics.find("score"); it != outcome.metrics.end()) note += fmt::format(" score={:.4f}", it->second);
  return note + fmt::format(" ({:.1f} s)", outcome.wall_s);
}

}  // namespace

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

SweepSummary run_sweep(const std::vector<ResolvedConfig>& runs, RunStore& store, const TrainFunction& train,
                       const SweepRunOptions& options, std::ostream& log) {
  std::vector<size_t> mine;
  for (size_t i = 0; i < runs.size(); ++i)
    if (options.shard.owns(i)) mine.push_back(i);

  SweepSummary summary;
  summary.in_shard = mine.size();
  std::mutex mutex;  // guards summary and log
  std::atomic<size_t> next{0};
  // more jobs than runs would only start idle threads (and thousands of them can fail to start)
  const int jobs = static_cast<int>(std::clamp<size_t>(mine.size(), 1, static_cast<size_t>(std::max(1, options.jobs))));
  const int cores = options.cores > 0 ? options.cores : usable_cores();

  auto say = [&](const std::string& text) {
    if (options.quiet) return;
    std::lock_guard<std::mutex> lock(mutex);
    log << text << '\n' << std::flush;
  };

  auto worker = [&](int slot) {
    const int gpu = static_cast<size_t>(slot) < options.gpu_of_slot.size() ? options.gpu_of_slot[static_cast<size_t>(slot)] : 0;
    for (size_t k = next++; k < mine.size(); k = next++) {
      if (options.stop && options.stop->load()) {
        std::lock_guard<std::mutex> lock(mutex);
        ++summary.interrupted;
        continue;
      }
      const ResolvedConfig& config = runs[mine[k]];
      const std::string tag = fmt::format("[{}/{}] {}", k + 1, mine.size(), run_id(config));
      const std::filesystem::path dir = store.run_dir(config);
      if (const std::string damaged = RunStore::damaged_result(dir); !damaged.empty())
        say(tag + ": " + damaged + "; training it again");
      else if (RunStore::is_finished(dir)) {
        std::lock_guard<std::mutex> lock(mutex);
        ++summary.skipped;
        continue;
      }
      TrainHooks hooks;
      hooks.quiet = options.quiet;
      hooks.live = options.live_progress && jobs == 1;
      const int64_t configured = config.train.has("threads") ? config.train.get_int("threads") : 0;
      hooks.threads = configured > 0 ? static_cast<int>(configured) : (jobs > 1 ? std::max(1, cores / jobs) : 0);
      hooks.gpu = gpu;
      hooks.progress_label = run_id(config);
      hooks.restart_damaged = options.restart_damaged;
      if (options.stop) hooks.stop_requested = [stop = options.stop] { return stop->load(); };
      say(tag + ": start");
      try {
        store.prepare(dir, config);
        const RunOutcome outcome = train(config, dir, hooks);
        if (outcome.status == "interrupted") {  // checkpointed, not finished: a rerun resumes it
          std::lock_guard<std::mutex> lock(mutex);
          ++summary.interrupted;
          continue;
        }
        store.write_result(dir, config, outcome);
        {
          std::lock_guard<std::mutex> lock(mutex);
          ++(outcome.status == "diverged" ? summary.diverged : summary.done);
        }
        say(tag + ": " + outcome.status + outcome_note(outcome));
      } catch (const std::exception& e) {
        // one broken run must not stop the sweep; it is retried on the next invocation
        try {
          store.write_failure(dir, config, e.what());
        } catch (const std::exception& e2) {
          say(tag + ": cannot record the failure: " + e2.what());
        }
        {
          std::lock_guard<std::mutex> lock(mutex);
          ++summary.failed;
        }
        say(tag + ": failed: " + e.what());
      }
      try {
        store.rebuild_runs_csv();
      } catch (const std::exception& e) {
        say(std::string("cannot rebuild runs.csv: ") + e.what());
      }
    }
  };

  std::vector<std::thread> pool;
  for (int j = 1; j < jobs; ++j) {
    try {
      pool.emplace_back(worker, j);
    } catch (const std::system_error& e) {
      // the system gave no more threads: the ones started share the runs
      say(fmt::format("could start only {} of {} jobs ({}); continuing with those", j, jobs, e.what()));
      break;
    }
  }
  worker(0);
  for (auto& t : pool) t.join();
  std::vector<std::string> left_out;
  store.rebuild_runs_csv(&left_out);
  if (!left_out.empty())
    log << fmt::format("warning: {} run folder(s) under {} have no row in runs.csv: {}\n", left_out.size(),
                       store.runs_dir().string(), fmt::join(left_out, "; "));
  return summary;
}

}  // namespace db
