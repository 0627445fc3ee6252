// bench_train_step.cpp: mixer forward/backward and one full training step, per registered mixer.
//
// Mixers: B=8, D=128 with 2 heads (head dim 64), T in {128, 512, 2048}, forward and forward+backward.
// Training step: the MQAR reference model of the issue (fla-style scaffold, d_model 128, 2 layers,
// 2 heads, short conv 4, RMSNorm, SwiGLU MLP, untied head, vocab 8192, T 256, batch 64) with the
// loss at EVERY position (the worst case for the head), forward + backward + AdamW; TrainStepSmall
// is the same scaffold at a quick profile's size (d_model 64, vocab 512, T 128), where per-op
// overhead rather than FLOPs decides. bench/peers/torch_train_step.py is the peer of both.
// Reported: tokens/s, GFLOP/s of model FLOPs, and that as a fraction of this machine's GEMM rate
// (of_GEMM_rate), measured at start-up on the head's own shape ([2048 x 128] x [128 x 8192], float,
// all threads) with the fixed-block product the model itself runs.
// Model FLOPs per token: bench/model_flops.h.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>

#include "bench/bench_main.h"
#include "common/rng.h"
#include "bench/model_flops.h"
#include "models/backbones/model.h"
#include "models/numerics/gemm.h"
#include "models/optim/adamw.h"

namespace db {
namespace {

// GFLOP/s of `product` (one [M x K] x [K x N] product) over at least half a second, after a warm-up
template <class F>
double gemm_rate(F&& product, double flops) {
  product();
  const auto t0 = std::chrono::steady_clock::now();
  int reps = 0;
  double seconds = 0;
  do {
    product();
    ++reps;
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (seconds < 0.5);
  return flops * reps / seconds * 1e-9;
}

// the rate of the product the model runs its layers with (models/numerics/gemm.h: fixed row blocks
// over all threads, Eigen's serial kernel in each) on the head's shape: the rate a step's FLOPs are
// held against. Eigen's own threading is off in the whole process (gemm.cpp), so this is the
// fastest float GEMM the default build has.
double measure_gemm_peak_gflops() {
  const Index M = 2048, K = 128, N = 8192;
  MatrixR a = MatrixR::Random(M, K), b = MatrixR::Random(N, K), c(M, N);
  const double rate = gemm_rate([&] { gemm_nt(a.data(), b.data(), c.data(), M, N, K); }, 2.0 * M * N * K);
  benchmark::DoNotOptimize(c.data());
  return rate;
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

// one training step's shape: the reference (d 128, vocabulary 8192, T 256) or a quick
// profile's small model (d 64, vocabulary 512, T 128), both at batch 64
struct StepShape {
  int d_model, vocab, T, B = 64;
};

void BM_TrainStep(benchmark::State& state, std::string mixer, StepShape shape) {
  const int B = shape.B, T = shape.T;
  ModelConfig config = bench::reference_config(mixer, shape.d_model);
  config.vocab_size = shape.vocab;
  Model model(config);
  model.initialize(1);
  AdamW opt(model.params(), {0.9, 0.999, 1e-8, 0.1});
  Rng rng(3);
  std::vector<int32_t> tokens(B * T), targets(B * T);
  for (auto& t : tokens) t = static_cast<int32_t>(rng.below(shape.vocab));
  for (auto& t : targets) t = static_cast<int32_t>(rng.below(shape.vocab));
  auto step = [&] {
    model.params().zero_grad();
    auto r = model.forward_loss(tokens.data(), targets.data(), B, T, true, nullptr);
    model.backward();
    opt.step(1e-3);
    benchmark::DoNotOptimize(r.loss_sum);
  };
  step();  // untimed: the first step allocates every buffer, which a training run pays once
  for (auto _ : state) step();
  const double flops_per_token = bench::step_flops_per_token(model, mixer, T);
  const double tokens_per_step = double(B) * T;
  state.counters["tokens/s"] = benchmark::Counter(tokens_per_step, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(tokens_per_step * flops_per_token * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["MFLOP/token"] = flops_per_token * 1e-6;
  state.counters["peak_GFLOP/s"] = gemm_peak();
  // the step's model FLOPs as a fraction of the GEMM rate measured on this machine at this thread count
  state.counters["of_GEMM_rate"] = benchmark::Counter(tokens_per_step * flops_per_token * 1e-9 / gemm_peak(),
                                                      benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Mixer(benchmark::State& state, std::string mixer, bool backward) {
  const int B = 8, T = static_cast<int>(state.range(0)), D = 128;
  ParamArena arena;
  auto m = create_mixer(mixer, D, bench::reference_mixer_options(mixer), arena);
  Rng rng(5);
  arena.initialize(rng);
  std::vector<real> x(size_t(B) * T * D), y(x.size()), dx(x.size());
  for (auto& v : x) v = static_cast<real>(rng.normal());
  auto call = [&] {
    m->forward(x.data(), y.data(), B, T);
    if (backward) m->backward(y.data(), dx.data());
    benchmark::DoNotOptimize(y.data());
  };
  call();  // untimed: the first call allocates the mixer's buffers
  for (auto _ : state) call();
  state.counters["tokens/s"] = benchmark::Counter(double(B) * T, benchmark::Counter::kIsIterationInvariantRate);
}

// registered from main(): the registry's entries are globals of other translation units, not
// constructed yet during this file's static initialisation
void register_benchmarks() {
  for (const auto* e : mixer_registry()) {
    benchmark::RegisterBenchmark(("TrainStep/" + e->name).c_str(), BM_TrainStep, e->name, StepShape{128, 8192, 256})
        ->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();
    benchmark::RegisterBenchmark(("TrainStepSmall/" + e->name).c_str(), BM_TrainStep, e->name, StepShape{64, 512, 128})
        ->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
    for (bool bwd : {false, true})
      benchmark::RegisterBenchmark(("Mixer" + std::string(bwd ? "ForwardBackward/" : "Forward/") + e->name).c_str(),
                                   BM_Mixer, e->name, bwd)
          ->Arg(128)->Arg(512)->Arg(2048)->Unit(benchmark::kMillisecond)->MinTime(0.3)->UseRealTime();
  }
}

}  // namespace
}  // namespace db

int main(int argc, char** argv) { return db::bench::run_benchmarks(argc, argv, db::register_benchmarks); }
