// bench_train_step.cpp: mixer forward/backward and one full training step, per registered mixer.
//
// Mixers: B=8, D=128 with 2 heads (head dim 64), T in {128, 512, 2048}, forward and forward+backward.
// Training step: the MQAR reference model of the issue (fla-style scaffold, d_model 128, 2 layers,
// 2 heads, short conv 4, RMSNorm, SwiGLU MLP, untied head, vocab 8192, T 256, batch 64) with the
// loss at EVERY position (the worst case for the head), forward + backward + AdamW.
// Reported: tokens/s, GFLOP/s of model FLOPs, and that as a fraction of this machine's GEMM peak,
// measured at start-up on the head's own shape ([2048 x 128] x [128 x 8192], float, all threads).
// Model FLOPs per token: bench/model_flops.h.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>

#include "common/rng.h"
#include "bench/model_flops.h"
#include "models/backbones/model.h"
#include "models/optim/adamw.h"

namespace db {
namespace {

double measure_gemm_peak_gflops() {
  const Index M = 2048, K = 128, N = 8192;
  MatrixR a = MatrixR::Random(M, K), b = MatrixR::Random(N, K), c(M, N);
  c.noalias() = a * b.transpose();  // warm up
  const auto t0 = std::chrono::steady_clock::now();
  int reps = 0;
  double seconds = 0;
  do {
    c.noalias() = a * b.transpose();
    ++reps;
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (seconds < 0.5);
  benchmark::DoNotOptimize(c.data());
  return 2.0 * M * N * K * reps / seconds * 1e-9;
}

double gemm_peak() {
  static const double peak = measure_gemm_peak_gflops();
  return peak;
}

void BM_GemmHeadShape(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(gemm_peak());
  state.counters["GFLOP/s"] = gemm_peak();
  state.counters["threads"] = omp_get_max_threads();
}
BENCHMARK(BM_GemmHeadShape)->Iterations(1);

void BM_TrainStep(benchmark::State& state, std::string mixer) {
  constexpr int B = 64, T = 256;
  Model model(bench::reference_config(mixer, 128));
  model.initialize(1);
  AdamW opt(model.params(), {0.9, 0.999, 1e-8, 0.1});
  Rng rng(3);
  std::vector<int32_t> tokens(B * T), targets(B * T);
  for (auto& t : tokens) t = static_cast<int32_t>(rng.below(8192));
  for (auto& t : targets) t = static_cast<int32_t>(rng.below(8192));
  for (auto _ : state) {
    model.params().zero_grad();
    auto r = model.forward_loss(tokens.data(), targets.data(), B, T, true, nullptr);
    model.backward();
    opt.step(1e-3);
    benchmark::DoNotOptimize(r.loss_sum);
  }
  const double flops_per_token = bench::step_flops_per_token(model, mixer, T);
  const double tokens_per_step = double(B) * T;
  state.counters["tokens/s"] = benchmark::Counter(tokens_per_step, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(tokens_per_step * flops_per_token * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["MFLOP/token"] = flops_per_token * 1e-6;
  state.counters["peak_GFLOP/s"] = gemm_peak();
}

void BM_Mixer(benchmark::State& state, std::string mixer, bool backward) {
  const int B = 8, T = static_cast<int>(state.range(0)), D = 128;
  ParamArena arena;
  auto m = create_mixer(mixer, D, bench::reference_mixer_options(mixer), arena);
  Rng rng(5);
  arena.initialize(rng);
  std::vector<real> x(size_t(B) * T * D), y(x.size()), dx(x.size());
  for (auto& v : x) v = static_cast<real>(rng.normal());
  for (auto _ : state) {
    m->forward(x.data(), y.data(), B, T);
    if (backward) m->backward(y.data(), dx.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["tokens/s"] = benchmark::Counter(double(B) * T, benchmark::Counter::kIsIterationInvariantRate);
}

// registered from main(): the registry's entries are globals of other translation units, not
// constructed yet during this file's static initialisation
void register_benchmarks() {
  for (const auto* e : mixer_registry()) {
    benchmark::RegisterBenchmark(("TrainStep/" + e->name).c_str(), BM_TrainStep, e->name)
        ->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
    for (bool bwd : {false, true})
      benchmark::RegisterBenchmark(("Mixer" + std::string(bwd ? "ForwardBackward/" : "Forward/") + e->name).c_str(),
                                   BM_Mixer, e->name, bwd)
          ->Arg(128)->Arg(512)->Arg(2048)->Unit(benchmark::kMillisecond)->MinTime(0.3)->UseRealTime();
  }
}

}  // namespace
}  // namespace db

int main(int argc, char** argv) {
  db::register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
