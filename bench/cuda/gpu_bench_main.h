// gpu_bench_main.h: the main() of a GPU benchmark binary. Where no GPU is visible it says so and
// exits 0, so a script can run every benchmark binary on any machine; otherwise run_benchmarks.
#pragma once

#include <cstdio>

#include "bench/bench_main.h"
#include "models/cuda/runtime.h"

namespace db::bench {

inline int run_gpu_benchmarks(int argc, char** argv, void (*register_benchmarks)()) {
  if (cuda::device_count() == 0) {
    std::fprintf(stderr, "%s: no CUDA device visible\n", argc > 0 ? argv[0] : "benchmark");
    return 0;
  }
  return run_benchmarks(argc, argv, register_benchmarks);
}

}  // namespace db::bench
