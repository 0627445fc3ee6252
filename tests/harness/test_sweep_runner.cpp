// test_sweep_runner.cpp: running sweeps with a fake trainer: shards partition the runs (also when
// taken from Slurm variables), a sweep killed mid-run resumes to exactly the result of an
// uninterrupted one, diverged and failed runs are recorded without stopping the sweep, --jobs does
// not change the results, the cores shared between jobs are those of the affinity mask, and file
// writes are atomic.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "common/rng.h"
#include "common/atomic_file.h"
#include "harness/report/csv.h"
#include "harness/config/experiment_file.h"
#include "harness/sweep/results_folder.h"
#include "harness/sweep/shard.h"
#include "harness/sweep/expansion.h"
#include "harness/sweep/folder_lock.h"
#include "harness/sweep/runner.h"
#include "harness_test_support.h"

namespace db {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

// deterministic outcome derived from the config, so two sweeps produce byte-identical rows
RunOutcome fake_outcome(const ResolvedConfig& c) {
  RunOutcome o;
  o.metrics["score"] = static_cast<double>(fnv1a64(c.hash) % 1000) / 1000.0;
  o.metrics["loss"] = 0.5;
  o.num_params = 1000 + static_cast<int64_t>(c.seed);
  o.state_size = 64;
  o.steps = 10;
  o.tokens_per_s = 12345.5;
  o.wall_s = 1.25;
  return o;
}

struct CountingTrainer {
  std::mutex mutex;
  std::map<std::string, int> calls;  // hash -> times trained
  TrainFunction fn() {
    return [this](const ResolvedConfig& c, const fs::path& dir, const TrainHooks&) {
      std::ofstream(dir / "curve.csv") << "step,score\n10,0.5\n";
      std::lock_guard<std::mutex> lock(mutex);
      ++calls[c.hash];
      return fake_outcome(c);
    };
  }
  int total() {
    int n = 0;
    for (const auto& [_, k] : calls) n += k;
    return n;
  }
};

SweepRunOptions quiet_options(int jobs = 1, Shard shard = {}) {
  SweepRunOptions o;
  o.jobs = jobs;
  o.shard = shard;
  o.quiet = true;
  return o;
}

std::string run_sweep_into(const fs::path& root, const TrainFunction& train, const SweepRunOptions& options,
                           SweepSummary* summary = nullptr) {
  RunStore store(root);
  std::ostringstream log;
  const SweepSummary s = run_sweep(test::twelve_run_sweep(), store, train, options, log);
  if (summary) *summary = s;
  return read_text_file(store.runs_csv());
}

TEST(Shards, PartitionEveryRunExactlyOnce) {
  for (size_t n = 1; n <= 5; ++n) {
    std::vector<int> owners(23, 0);
    for (size_t i = 0; i < n; ++i)
      for (size_t r = 0; r < owners.size(); ++r) owners[r] += Shard{i, n}.owns(r);
    for (int count : owners) EXPECT_EQ(count, 1) << "n=" << n;
  }
}

TEST(Shards, ParseFlagAndSlurmVariables) {
  EXPECT_EQ(parse_shard("3/16").index, 3u);
  EXPECT_EQ(parse_shard("3/16").count, 16u);
  test::expect_experiment_error([] { parse_shard("16/16"); }, "--shard 16/16", "", "[0, 16)");
  test::expect_experiment_error([] { parse_shard("a/b"); }, "--shard a/b", "", "expected i/n");

  EXPECT_FALSE(shard_from_slurm({}).has_value());
  const auto s = shard_from_slurm({{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_COUNT", "4"}});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->describe(), "2/4");
  // arrays numbered 1..4 map onto shards 0..3
  EXPECT_EQ(shard_from_slurm({{"SLURM_ARRAY_TASK_ID", "4"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_MIN", "1"}})
                ->describe(),
            "3/4");
  EXPECT_THROW(shard_from_slurm({{"SLURM_ARRAY_TASK_ID", "4"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}), ExperimentError);
  // an explicit --shard wins over the environment
  EXPECT_EQ(choose_shard("1/2", {{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}).describe(), "1/2");
  EXPECT_EQ(choose_shard("", {{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}).describe(), "2/4");
  EXPECT_EQ(choose_shard("", {}).describe(), "0/1");
}

TEST(Shards, ShardedSweepsIntoOneFolderEqualOneUnshardedSweep) {
  TempDir tmp;
  CountingTrainer sharded, whole;
  for (size_t i = 0; i < 3; ++i) run_sweep_into(tmp.path / "sharded", sharded.fn(), quiet_options(1, Shard{i, 3}));
  EXPECT_EQ(sharded.calls.size(), 12u);
  EXPECT_EQ(sharded.total(), 12);  // disjoint: nobody trained a run twice
  // each shard rebuilds runs.csv from every run folder, so the last one to finish holds them all
  const std::string merged = read_text_file(tmp.path / "sharded" / "runs.csv");
  EXPECT_EQ(merged, run_sweep_into(tmp.path / "whole", whole.fn(), quiet_options()));
}

TEST(SweepRunner, WritesConfigCurveAndResultPerRunAndOneRowEach) {
  TempDir tmp;
  CountingTrainer trainer;
  SweepSummary summary;
  const std::string csv_text = run_sweep_into(tmp.path, trainer.fn(), quiet_options(), &summary);
  EXPECT_EQ(summary.done, 12u);
  EXPECT_EQ(summary.line(), "12 runs: 12 done, 0 diverged, 0 failed, 0 skipped (finished before)");
  const CsvTable csv = parse_csv(csv_text);
  ASSERT_EQ(csv.rows.size(), 12u);
  for (const char* col : {"run_id", "status", "model.d_model", "train.lr", "model.mixer.name", "seed", "score", "loss",
                          "num_params", "state_size", "tokens_per_s", "wall_s", "git_sha"})
    EXPECT_GE(csv.column(col), 0) << col;
  EXPECT_TRUE(std::is_sorted(csv.rows.begin(), csv.rows.end()));  // by run id, the first column
  for (const auto& row : csv.rows) {
    const fs::path dir = tmp.path / "runs" / row[0];
    EXPECT_TRUE(fs::exists(dir / "config.yaml"));
    EXPECT_TRUE(fs::exists(dir / "curve.csv"));
    EXPECT_TRUE(fs::exists(dir / "result.json"));
    EXPECT_EQ(row[csv.column("status")], "done");
  }
}

TEST(SweepRunner, RerunSkipsFinishedRuns) {
  TempDir tmp;
  CountingTrainer first, second;
  const std::string a = run_sweep_into(tmp.path, first.fn(), quiet_options());
  SweepSummary summary;
  const std::string b = run_sweep_into(tmp.path, second.fn(), quiet_options(), &summary);
  EXPECT_EQ(second.total(), 0);
  EXPECT_EQ(summary.skipped, 12u);
  EXPECT_EQ(a, b);
}

TEST(SweepRunner, ADamagedResultIsReportedAndTheRunTrainedAgain) {
  TempDir tmp;
  CountingTrainer first, second;
  const std::string complete = run_sweep_into(tmp.path, first.fn(), quiet_options());
  RunStore store(tmp.path);
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(store.runs_dir())) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  std::ofstream(dirs[0] / "result.json") << "{\"status\": \"done\", \"conf";  // truncated
  std::ofstream(dirs[1] / "result.json") << "[1, 2]";                              // valid JSON, not a record
  const std::string damaged = RunStore::damaged_result(dirs[0]);
  EXPECT_NE(damaged.find((dirs[0] / "result.json").string()), std::string::npos) << damaged;
  EXPECT_FALSE(RunStore::is_finished(dirs[1]));

  // runs.csv names what it leaves out instead of dropping rows silently
  std::vector<std::string> left_out;
  EXPECT_EQ(store.rebuild_runs_csv(&left_out), 10u);
  ASSERT_EQ(left_out.size(), 2u);
  EXPECT_NE(left_out[0].find("result.json"), std::string::npos) << left_out[0];

  std::ostringstream log;
  SweepRunOptions loud = quiet_options();
  loud.quiet = false;
  const SweepSummary s = run_sweep(test::twelve_run_sweep(), store, second.fn(), loud, log);
  EXPECT_EQ(second.total(), 2);
  EXPECT_EQ(s.skipped, 10u);
  EXPECT_NE(log.str().find("training it again"), std::string::npos) << log.str();
  EXPECT_EQ(read_text_file(store.runs_csv()), complete);
}

TEST(SweepRunner, AStopRequestStartsNoNewRunAndLeavesInterruptedRunsUnfinished) {
  TempDir tmp;
  CountingTrainer reference;
  const std::string complete = run_sweep_into(tmp.path / "complete", reference.fn(), quiet_options());

  std::atomic<bool> stop{false};
  std::atomic<int> started{0};
  TrainFunction stops_on_the_third = [&](const ResolvedConfig& c, const fs::path& dir, const TrainHooks& hooks) {
    if (++started == 3) stop = true;  // as if Ctrl-C arrived during the third run
    if (hooks.stop_requested && hooks.stop_requested()) {
      RunOutcome o;
      o.status = "interrupted";
      return o;
    }
    std::ofstream(dir / "curve.csv") << "step,score\n10,0.5\n";
    return fake_outcome(c);
  };
  SweepRunOptions options = quiet_options();
  options.stop = &stop;
  SweepSummary s;
  run_sweep_into(tmp.path / "stopped", stops_on_the_third, options, &s);
  EXPECT_EQ(s.done, 2u);
  EXPECT_EQ(s.interrupted, 10u);  // the third, stopped in flight, and the nine never started
  EXPECT_EQ(started.load(), 3);

  CountingTrainer rest;
  EXPECT_EQ(run_sweep_into(tmp.path / "stopped", rest.fn(), quiet_options()), complete);
  EXPECT_EQ(rest.total(), 10);
}

TEST(SweepRunner, ResumeAfterAKillFinishesOnlyTheMissingRunsAndMatchesAnUninterruptedSweep) {
  TempDir tmp;
  const fs::path killed = tmp.path / "killed";
  // the child process trains three runs, then dies in the middle of the fourth, as under kill -9
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int trained = 0;
    TrainFunction dying = [&](const ResolvedConfig& c, const fs::path& dir, const TrainHooks&) {
      std::ofstream(dir / "curve.csv") << "step,score\n10,0.5\n";
      if (++trained == 4) _exit(9);
      return fake_outcome(c);
    };
    RunStore store(killed);
    std::ostringstream log;
    run_sweep(test::twelve_run_sweep(), store, dying, quiet_options(), log);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 9);

  // what the kill left: three finished runs in runs.csv, one folder without result.json
  size_t finished = 0, unfinished = 0;
  for (const auto& entry : fs::directory_iterator(killed / "runs")) {
    const bool done = fs::exists(entry.path() / "result.json");
    finished += done;
    unfinished += !done;
    if (!done) {
      EXPECT_TRUE(fs::exists(entry.path() / "curve.csv"));  // the trainer's partial output stays
    }
  }
  EXPECT_EQ(finished, 3u);
  EXPECT_EQ(unfinished, 1u);
  EXPECT_EQ(parse_csv(read_text_file(killed / "runs.csv")).rows.size(), 3u);

  CountingTrainer resume, fresh;
  SweepSummary summary;
  const std::string resumed = run_sweep_into(killed, resume.fn(), quiet_options(), &summary);
  EXPECT_EQ(resume.total(), 9);
  EXPECT_EQ(summary.skipped, 3u);
  EXPECT_EQ(resumed, run_sweep_into(tmp.path / "fresh", fresh.fn(), quiet_options()));
}

TEST(SweepRunner, DivergedAndFailedRunsAreRecordedAndTheSweepGoesOn) {
  TempDir tmp;
  const auto runs = test::twelve_run_sweep();
  const std::string diverging = runs[2].hash, failing = runs[5].hash;
  TrainFunction flaky = [&](const ResolvedConfig& c, const fs::path&, const TrainHooks&) {
    if (c.hash == failing) throw std::runtime_error("out of memory, \"quoted\"");
    RunOutcome o = fake_outcome(c);
    if (c.hash == diverging) o.status = "diverged", o.metrics["loss"] = NAN;
    return o;
  };
  SweepSummary summary;
  const CsvTable csv = parse_csv(run_sweep_into(tmp.path, flaky, quiet_options(), &summary));
  EXPECT_EQ(summary.done, 10u);
  EXPECT_EQ(summary.diverged, 1u);
  EXPECT_EQ(summary.failed, 1u);
  ASSERT_EQ(csv.rows.size(), 12u);
  const int status = csv.column("status"), error = csv.column("error"), loss = csv.column("loss");
  ASSERT_GE(error, 0);
  for (const auto& row : csv.rows) {
    if (row[0].find(failing) != std::string::npos) {
      EXPECT_EQ(row[status], "failed");
      EXPECT_EQ(row[error], "out of memory, \"quoted\"");
    } else if (row[0].find(diverging) != std::string::npos) {
      EXPECT_EQ(row[status], "diverged");
      EXPECT_EQ(row[loss], "nan");
    } else {
      EXPECT_EQ(row[status], "done");
    }
  }

  // a failed run is not finished: the next invocation retries it (and only it)
  CountingTrainer retry;
  const CsvTable after = parse_csv(run_sweep_into(tmp.path, retry.fn(), quiet_options(), &summary));
  EXPECT_EQ(retry.total(), 1);
  EXPECT_EQ(retry.calls.count(failing), 1u);
  EXPECT_EQ(after.column("error"), -1);
  for (const auto& row : after.rows) EXPECT_NE(row[after.column("status")], "failed");
}

// a trainer that records the thread count each run was given
struct ThreadCountRecorder {
  std::mutex mutex;
  std::set<int> seen;
  TrainFunction fn() {
    return [this](const ResolvedConfig& c, const fs::path&, const TrainHooks& hooks) {
      std::lock_guard<std::mutex> lock(mutex);
      seen.insert(hooks.threads);
      return fake_outcome(c);
    };
  }
};

TEST(SweepRunner, ParallelJobsGiveTheSameResultsAndShareTheCores) {
  TempDir tmp;
  ThreadCountRecorder recorder;
  SweepRunOptions parallel = quiet_options(3);
  parallel.cores = 12;
  const std::string a = run_sweep_into(tmp.path / "parallel", recorder.fn(), parallel);
  EXPECT_EQ(recorder.seen, std::set<int>{4});
  CountingTrainer serial;
  EXPECT_EQ(a, run_sweep_into(tmp.path / "serial", serial.fn(), quiet_options()));
}

TEST(SweepRunner, MoreJobsThanRunsStartOneJobPerRunAndShareTheCoresBetweenThose) {
  TempDir tmp;
  ThreadCountRecorder recorder;
  SweepRunOptions huge = quiet_options(100000);
  huge.cores = 24;
  SweepSummary summary;
  run_sweep_into(tmp.path / "huge", recorder.fn(), huge, &summary);
  EXPECT_EQ(summary.done, 12u);
  EXPECT_EQ(recorder.seen, std::set<int>{2});  // 24 cores over the 12 runs' jobs, not over 100000
}

TEST(ResultsFolderLock, OneSweepPerFolderButShardsOfASplitTogether) {
  TempDir tmp;
  const fs::path folder = tmp.path / "results";
  {
    const ResultsFolderLock first(folder, {});
    try {
      const ResultsFolderLock second(folder, {});
      ADD_FAILURE() << "a second sweep took a folder in use";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("is being written by deltabench run (pid"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(folder.string()), std::string::npos) << e.what();
    }
    EXPECT_THROW(ResultsFolderLock(folder, Shard{0, 2}), std::runtime_error);
  }
  {
    const ResultsFolderLock shard1(folder, Shard{0, 2});
    const ResultsFolderLock shard2(folder, Shard{1, 2});
    EXPECT_THROW(ResultsFolderLock(folder, Shard{0, 2}), std::runtime_error);  // the same shard twice
    EXPECT_THROW(ResultsFolderLock(folder, {}), std::runtime_error);           // an unsharded sweep
  }
  EXPECT_NO_THROW(ResultsFolderLock(folder, {}));  // released with its holders
}

TEST(SweepRunner, UsableCoresFollowsTheAffinityMask) {
  // under taskset or a Slurm cpuset the machine has more cores than the process may use
  cpu_set_t original;
  ASSERT_EQ(sched_getaffinity(0, sizeof original, &original), 0);
  EXPECT_EQ(usable_cores(), CPU_COUNT(&original));
  int first = 0;
  while (!CPU_ISSET(first, &original)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  const int pinned = usable_cores();
  ASSERT_EQ(sched_setaffinity(0, sizeof original, &original), 0);
  EXPECT_EQ(pinned, 1);
}

TEST(SweepRunner, FindsAFinishedRunByHashEvenUnderAnotherSlug) {
  TempDir tmp;
  auto runs = test::twelve_run_sweep();
  CountingTrainer trainer;
  RunStore store(tmp.path);
  std::ostringstream log;
  run_sweep(runs, store, trainer.fn(), quiet_options(), log);
  for (auto& r : runs) r.slug = "renamed";  // e.g. a profile that sweeps other axes
  RunStore again(tmp.path);
  CountingTrainer second;
  const SweepSummary s = run_sweep(runs, again, second.fn(), quiet_options(), log);
  EXPECT_EQ(s.skipped, 12u);
  EXPECT_EQ(second.total(), 0);
}

TEST(AtomicFile, ReplacesContentAndLeavesNoTemporaryFiles) {
  TempDir tmp;
  const fs::path file = tmp.path / "a.txt";
  write_file_atomically(file, "old");
  write_file_atomically(file, "new content");
  EXPECT_EQ(read_text_file(file), "new content");
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path)) ++entries;
  EXPECT_EQ(entries, 1u);
  // a target that cannot be replaced (a non-empty folder) throws and cleans up its temporary file
  fs::create_directories(tmp.path / "dir" / "x");
  EXPECT_THROW(write_file_atomically(tmp.path / "dir", "data"), std::runtime_error);
  entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path)) ++entries;
  EXPECT_EQ(entries, 2u);
}

TEST(AtomicFile, ConcurrentReadersOnlyEverSeeWholeVersions) {
  TempDir tmp;
  const fs::path file = tmp.path / "runs.csv";
  std::vector<std::string> versions;
  for (int v = 0; v < 4; ++v) versions.push_back(std::string(200000, static_cast<char>('a' + v)));
  write_file_atomically(file, versions[0]);
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0}, reads{0};
  std::thread reader([&] {
    while (!stop) {
      const std::string seen = read_text_file(file);
      ++reads;
      if (std::find(versions.begin(), versions.end(), seen) == versions.end()) ++torn;
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      for (int i = 0; i < 20; ++i) write_file_atomically(file, versions[(w + i) % 4]);
    });
  for (auto& t : writers) t.join();
  stop = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(torn.load(), 0);
}

}  // namespace
}  // namespace db
