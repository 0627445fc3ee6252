// step_graphs.cpp: capture and replay of a step's CUDA graph (see step_graphs.h).
#include "models/cuda/step_graphs.h"

namespace db::cuda {

StepGraphs::~StepGraphs() {
  for (auto& [key, entry] : entries_)
    if (entry.exec) cudaGraphExecDestroy(entry.exec);
}

void StepGraphs::capture(Entry& entry, const std::function<void()>& work) {
  if (entry.exec) DB_CUDA_CHECK(cudaGraphExecDestroy(entry.exec));
  entry.exec = nullptr;
  cudaGraph_t graph = nullptr;
  // thread-local mode: other runs of the sweep, in other threads, may allocate while this one records
  DB_CUDA_CHECK(cudaStreamBeginCapture(ctx_.stream(), cudaStreamCaptureModeThreadLocal));
  try {
    work();
  } catch (...) {
    cudaStreamEndCapture(ctx_.stream(), &graph);  // leave the stream usable; the error goes on
    if (graph) cudaGraphDestroy(graph);
    throw;
  }
  DB_CUDA_CHECK(cudaStreamEndCapture(ctx_.stream(), &graph));
  const cudaError_t status = cudaGraphInstantiate(&entry.exec, graph, 0);
  cudaGraphDestroy(graph);
  DB_CUDA_CHECK(status);
  entry.allocations = allocations_made_by_this_thread();
}

void StepGraphs::run(const Key& key, const std::function<void()>& work) {
  Entry& entry = entries_[key];
  if (!entry.seen) {
    entry.seen = true;
    work();
    return;
  }
  if (!entry.exec || entry.allocations != allocations_made_by_this_thread()) capture(entry, work);
  DB_CUDA_CHECK(cudaGraphLaunch(entry.exec, ctx_.stream()));
  ++replays_;
}

}  // namespace db::cuda
