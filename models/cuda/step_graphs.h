// step_graphs.h: a training step recorded once as a CUDA graph and replayed, one graph per shape.
//
// A small model's step is hundreds of short kernels, GEMMs and copies; launched one by one from the
// host, the launches, not the GPU, set the pace. A CUDA graph launches them all with one call.
// Work given to run() must be the same sequence of device operations every time its key comes
// back: same kernels, same pointers, same launch shapes, anything that varies (the learning rate,
// the batch) read from device memory that the host rewrites before the replay.
//
// The first time a key is seen the work runs eagerly (so every buffer it needs gets allocated), the
// second time it is captured and launched, and from then on replayed. A graph captured before this
// thread last allocated device memory may point at a freed buffer, so it is captured again.
// Replaying a graph runs the same kernels in the same order as the eager calls: same bits.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>

#include "models/cuda/runtime.h"

namespace db::cuda {

class StepGraphs {
 public:
  using Key = std::array<int64_t, 3>;  // the step's shape, e.g. (B, T, labelled rows)

  explicit StepGraphs(const Context& ctx) : ctx_(ctx) {}
  ~StepGraphs();
  StepGraphs(const StepGraphs&) = delete;
  StepGraphs& operator=(const StepGraphs&) = delete;

  // queue `work` on the context's stream: eagerly, or as a captured graph (see above)
  void run(const Key& key, const std::function<void()>& work);
  // graph launches so far (for tests and benchmarks)
  int64_t replays() const { return replays_; }

 private:
  struct Entry {
    bool seen = false;
    cudaGraphExec_t exec = nullptr;
    uint64_t allocations = 0;  // allocations_made_by_this_thread() when captured
  };
  void capture(Entry& entry, const std::function<void()>& work);
  const Context& ctx_;
  std::map<Key, Entry> entries_;
  int64_t replays_ = 0;
};

}  // namespace db::cuda
