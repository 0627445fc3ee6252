// job_slots.h: how many runs a sweep trains at once, and which GPU each of those job slots uses.
//
// A sweep's runs are taken by `jobs` worker threads; worker j is job slot j. On the CPU the slots
// share the cores, and by default there is one slot per core (the runner gives each slot cores / jobs
// threads, so one thread each): many single-threaded runs keep a node busier than a few wide ones,
// whose small GEMMs and per-token loops leave threads waiting (results/README.md, "Filling a node").
// When any run of the sweep trains on cuda, slot j trains on GPU j % gpus, so the
// runs in flight spread evenly over the GPUs this process sees (CUDA_VISIBLE_DEVICES narrows them),
// and by default there are as many slots as GPUs times `runs_per_gpu` (1 unless asked: several
// small models fit on one GPU, which their kernel launches alone would leave mostly idle).
#pragma once

#include <string>
#include <vector>

namespace db {

struct JobSlotRequest {
  int jobs = 0;          // --jobs; 0 = not given
  int runs_per_gpu = 0;  // --runs-per-gpu; 0 = not given (1)
  int gpus = 0;          // GPUs visible to this process
  bool uses_gpu = false; // some run of the sweep has train.device: cuda
  int cores = 1;         // cores this process may use: a CPU sweep's default number of slots
};

struct JobSlots {
  int jobs = 1;
  std::vector<int> gpu_of_slot;  // [jobs]: the GPU slot j trains on (0 when the sweep uses none)
  bool uses_gpu = false;         // some run trains on cuda
  int gpus = 0;                  // GPUs the slots spread over; 0 when no run trains on one or none is visible
  std::string describe() const;  // "2 jobs", "8 jobs on 4 GPUs"
};

// Throws std::invalid_argument for --runs-per-gpu given together with --jobs (one says how many
// runs, the other derives it), or given for a sweep that trains on no GPU. A sweep that trains on cuda
// where no GPU is visible gets uses_gpu and gpus 0; `deltabench run` refuses it before any run.
JobSlots plan_job_slots(const JobSlotRequest& request);

}  // namespace db
