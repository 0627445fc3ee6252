// bench_main.h: the main() of a benchmark binary that registers its benchmarks at run time (one per
// mixer, width or shape): register them, let Google Benchmark read its flags (an unknown flag is an
// error, exit 1), run, shut down.
#pragma once

#include <benchmark/benchmark.h>

namespace db::bench {

inline int run_benchmarks(int argc, char** argv, void (*register_benchmarks)()) {
  register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace db::bench
