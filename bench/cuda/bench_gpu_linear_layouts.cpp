// bench_gpu_linear_layouts.cpp: a Linear layer's fp32 forward product y = x W^T, from W [out,in] as
// parameters are stored and from a transposed copy Wt [in,out], at the shapes of the MQAR
// reference step (B 64, T 256: 16384 rows; d 128). cuBLAS picks its kernel by operand layout and
// shape, so this measures whether transposed weight copies, or larger LM head blocks, make the
// fp32 step's GEMMs faster (results/README.md, "The fp32 step beside fla": the layouts run within
// 12% of each other; the head's logits GEMM gains 8% from 4096 to 16384 rows, GpuLmHeadLoss::kMaxRowBlock).
//
// Linear/<layout>/rows:R/in:I/out:O, layout W (x W^T, cuBLAS "TN") or Wt (x Wt, cuBLAS "NN").
// Shapes: the LM head's logits over blocks of 4096 to 16384 rows (128 -> 8192), the q/k/v/o
// projections (128 -> 128), the MLP's gate and up (128 -> 512) and down (512 -> 128) projections.
// Reported: GFLOP/s (2 rows in out per product).
#include <benchmark/benchmark.h>

#include "bench/cuda/gpu_bench_main.h"
#include "models/cuda/blas.h"
#include "models/cuda/runtime.h"

namespace db {
namespace {

void BM_Linear(benchmark::State& state, bool transposed_copy) {
  const int rows = static_cast<int>(state.range(0)), in = static_cast<int>(state.range(1)),
            out = static_cast<int>(state.range(2));
  cuda::Context ctx;
  cuda::DeviceBuffer<float> x(size_t(rows) * in), w(size_t(out) * in), y(size_t(rows) * out);
  x.zero(ctx.stream()), w.zero(ctx.stream());
  auto run = [&] {
    if (transposed_copy)  // w read as Wt [in, out]
      cuda::gemm(ctx, false, false, rows, out, in, 1.f, x.data(), in, w.data(), out, 0.f, y.data(), out);
    else
      cuda::linear_forward(ctx, x.data(), w.data(), y.data(), rows, in, out);
  };
  run();
  ctx.synchronize();
  for (auto _ : state) {
    run();
    ctx.synchronize();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * rows * in * out * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void register_benchmarks() {
  for (const bool transposed_copy : {false, true})
    benchmark::RegisterBenchmark(transposed_copy ? "Linear/Wt" : "Linear/W", BM_Linear, transposed_copy)
        ->ArgNames({"rows", "in", "out"})
        ->Args({4096, 128, 8192})
        ->Args({8192, 128, 8192})
        ->Args({16384, 128, 8192})
        ->Args({16384, 128, 128})
        ->Args({16384, 128, 512})
        ->Args({16384, 512, 128})
        ->Unit(benchmark::kMicrosecond)
        ->MinTime(0.3)
        ->UseRealTime();
}

}  // namespace
}  // namespace db

int main(int argc, char** argv) { return db::bench::run_gpu_benchmarks(argc, argv, db::register_benchmarks); }
