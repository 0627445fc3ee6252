// test_job_slots.cpp: how --jobs and --runs-per-gpu become job slots and GPUs, with faked GPU counts
// (the machines that run the tests have none, or one), that the sweep runner gives each slot's runs
// that slot's GPU, so no GPU ever holds more runs at once than asked, and that a cuda sweep with no
// GPU visible is refused before it starts.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <fstream>
#include <latch>
#include <mutex>
#include <stdexcept>

#include "harness/commands/run.h"
#include "harness/sweep/job_slots.h"
#include "harness/sweep/runner.h"
#include "harness/train/device_support.h"
#include "harness_test_support.h"

namespace db {
namespace {

JobSlots plan(int jobs, int runs_per_gpu, int gpus, bool uses_gpu, int cores = 1) {
  return plan_job_slots(JobSlotRequest{jobs, runs_per_gpu, gpus, uses_gpu, cores});
}

TEST(JobSlots, CpuSweepsRunOneJobPerCoreUnlessAskedAndUseNoGpu) {
  for (int cores : {1, 2, 16}) EXPECT_EQ(plan(0, 0, 0, false, cores).jobs, cores);
  EXPECT_EQ(plan(0, 0, 0, false, 0).jobs, 1) << "an unknown core count still gives one slot";
  EXPECT_EQ(plan(3, 0, 0, false, 16).jobs, 3) << "--jobs wins over the core count";
  EXPECT_EQ(plan(0, 0, 4, true, 16).jobs, 4) << "a cuda sweep's default follows the GPUs, not the cores";
  for (int gpus : {0, 1, 8}) {
    EXPECT_EQ(plan(0, 0, gpus, false).jobs, 1);
    const JobSlots three = plan(3, 0, gpus, false);
    EXPECT_EQ(three.jobs, 3);
    EXPECT_EQ(three.gpus, 0);
    EXPECT_EQ(three.gpu_of_slot, (std::vector<int>{0, 0, 0}));
    EXPECT_EQ(three.describe(), "3 jobs");
  }
}

TEST(JobSlots, CudaSweepsDefaultToOneRunPerGpu) {
  for (int gpus : {1, 2, 4, 8}) {
    const JobSlots slots = plan(0, 0, gpus, true);
    EXPECT_EQ(slots.jobs, gpus);
    ASSERT_EQ(slots.gpu_of_slot.size(), static_cast<size_t>(gpus));
    for (int j = 0; j < gpus; ++j) EXPECT_EQ(slots.gpu_of_slot[static_cast<size_t>(j)], j);
  }
  EXPECT_EQ(plan(0, 0, 4, true).describe(), "4 jobs on 4 GPUs");
  EXPECT_EQ(plan(0, 0, 1, true).describe(), "1 job on 1 GPU");
}

TEST(JobSlots, RunsPerGpuMultipliesTheSlotsAndKeepsTheGpusEven) {
  const JobSlots slots = plan(0, 3, 4, true);
  EXPECT_EQ(slots.jobs, 12);
  std::array<int, 4> per_gpu{};
  for (int g : slots.gpu_of_slot) ++per_gpu.at(static_cast<size_t>(g));
  EXPECT_EQ(per_gpu, (std::array<int, 4>{3, 3, 3, 3}));
  // the first slots (those a short sweep uses) land on different GPUs
  EXPECT_EQ(std::vector<int>(slots.gpu_of_slot.begin(), slots.gpu_of_slot.begin() + 4), (std::vector<int>{0, 1, 2, 3}));
}

TEST(JobSlots, ExplicitJobsAreTakenInTurnOverTheGpus) {
  EXPECT_EQ(plan(5, 0, 2, true).gpu_of_slot, (std::vector<int>{0, 1, 0, 1, 0}));
  EXPECT_EQ(plan(2, 0, 8, true).gpu_of_slot, (std::vector<int>{0, 1}));  // fewer jobs than GPUs: GPUs left idle
  EXPECT_EQ(plan(5, 0, 2, true).describe(), "5 jobs on 2 GPUs");
}

TEST(JobSlots, NoVisibleGpuIsMarkedForTheRunCommandToRefuse) {
  const JobSlots slots = plan(0, 0, 0, true);
  EXPECT_TRUE(slots.uses_gpu);
  EXPECT_EQ(slots.gpus, 0);
  EXPECT_FALSE(plan(0, 0, 0, false).uses_gpu);
}

// `deltabench run` of a cuda sweep where no GPU is visible (faked: gpus 0) stops before any run and
// before the results folder exists; --dry-run still lists it. Needs the CUDA build, where the file is
// accepted at all (without it the file is refused at train.device when read).
TEST(JobSlots, TheRunCommandRefusesACudaSweepWithoutAGpu) {
  if (!cuda_backend_built()) GTEST_SKIP() << "a build without the CUDA backend refuses device: cuda when reading the file";
  test::TempDir tmp;
  write_file_atomically(tmp.path / "gpu.yaml",
                        "name: gpu\ntask: recall\nmodel: {mixer: deltanet}\ntrain: {epochs: 1, device: cuda}\n");
  RunCommandArgs args;
  args.file = tmp.path / "gpu.yaml";
  args.out = tmp.path / "out";
  args.gpus = 0;
  args.quiet = true;
  int trained = 0;
  const TrainFunction train = [&](const ResolvedConfig&, const std::filesystem::path&, const TrainHooks&) {
    ++trained;
    return RunOutcome{};
  };
  std::ostringstream out, err;
  EXPECT_EQ(run_command(args, train, test::fake_catalog(), out, err), 1);
  EXPECT_NE(err.str().find("no GPU is visible"), std::string::npos) << err.str();
  EXPECT_EQ(trained, 0);
  EXPECT_FALSE(std::filesystem::exists(args.out));
  args.dry_run = true;
  std::ostringstream out2, err2;
  EXPECT_EQ(run_command(args, train, test::fake_catalog(), out2, err2), 0) << err2.str();
}

TEST(JobSlots, ConflictingOrMisplacedRequestsAreRefused) {
  EXPECT_THROW(plan(4, 2, 2, true), std::invalid_argument);   // both say how many jobs
  EXPECT_THROW(plan(0, 2, 2, false), std::invalid_argument);  // no run trains on a GPU
}

TEST(JobSlots, TheRunnerKeepsEachSlotOnItsGpu) {
  // 12 runs, 2 per GPU on 4 faked GPUs: the trainer holds its first 8 runs until all 8 are in
  // flight, so all 8 slots are busy at once, then checks that no GPU ever had more than 2
  const std::vector<ResolvedConfig> runs = test::twelve_run_sweep();
  ASSERT_EQ(runs.size(), 12u);
  const JobSlots slots = plan(0, 2, 4, true);

  std::latch all_in_flight(slots.jobs);
  std::atomic<int> started{0};
  std::array<std::atomic<int>, 4> in_flight{};
  std::array<std::atomic<int>, 4> most{};
  std::mutex mutex;
  std::vector<int> gpu_of_run;
  const TrainFunction train = [&](const ResolvedConfig&, const std::filesystem::path& dir, const TrainHooks& hooks) {
    const size_t g = static_cast<size_t>(hooks.gpu);
    const int now = ++in_flight.at(g);
    for (int seen = most[g].load(); now > seen && !most[g].compare_exchange_weak(seen, now);) {
    }
    if (started++ < slots.jobs) all_in_flight.arrive_and_wait();
    {
      std::lock_guard<std::mutex> lock(mutex);
      gpu_of_run.push_back(hooks.gpu);
    }
    std::ofstream(dir / "curve.csv") << "step,score\n1,0.5\n";
    --in_flight[g];
    RunOutcome outcome;
    outcome.metrics["score"] = 0.5;
    return outcome;
  };

  test::TempDir tmp;
  RunStore store(tmp.path);
  SweepRunOptions options;
  options.jobs = slots.jobs;
  options.gpu_of_slot = slots.gpu_of_slot;
  options.quiet = true;
  std::ostringstream log;
  EXPECT_EQ(run_sweep(runs, store, train, options, log).done, 12u);
  ASSERT_EQ(gpu_of_run.size(), 12u);
  for (size_t g = 0; g < 4; ++g) EXPECT_EQ(most[g].load(), 2) << "GPU " << g;
}

}  // namespace
}  // namespace db
