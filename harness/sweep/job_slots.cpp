// job_slots.cpp: job slots and their GPUs (see job_slots.h).
#include "harness/sweep/job_slots.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace db {

std::string JobSlots::describe() const {
  const std::string text = fmt::format("{} job{}", jobs, jobs == 1 ? "" : "s");
  return gpus > 0 ? fmt::format("{} on {} GPU{}", text, gpus, gpus == 1 ? "" : "s") : text;
}

JobSlots plan_job_slots(const JobSlotRequest& request) {
  if (request.runs_per_gpu > 0 && request.jobs > 0)
    throw std::invalid_argument("give --jobs or --runs-per-gpu, not both: --runs-per-gpu sets jobs to GPUs x runs per GPU");
  if (request.runs_per_gpu > 0 && !request.uses_gpu)
    throw std::invalid_argument("--runs-per-gpu applies only to runs with train.device: cuda");
  JobSlots slots;
  slots.uses_gpu = request.uses_gpu;
  if (!request.uses_gpu || request.gpus < 1) {
    // no GPU to spread over: one slot per core unless told (the runner never starts more than runs)
    slots.jobs = request.jobs > 0 ? request.jobs : std::max(1, request.cores);
    slots.gpu_of_slot.assign(static_cast<size_t>(slots.jobs), 0);
    return slots;
  }
  slots.gpus = request.gpus;
  slots.jobs = request.jobs > 0 ? request.jobs : request.gpus * std::max(1, request.runs_per_gpu);
  for (int j = 0; j < slots.jobs; ++j) slots.gpu_of_slot.push_back(j % request.gpus);
  return slots;
}

}  // namespace db
