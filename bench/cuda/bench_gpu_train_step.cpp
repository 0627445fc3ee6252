// bench_gpu_train_step.cpp: the GPU backend's speed, beside the GPU's measured GEMM rate.
//
// TrainStep/<mixer>/d<D>: one full training step through the GPU training backend (the batch
// staged and uploaded, forward, backward, clipping, AdamW, the loss read back) on the MQAR
// reference model (bench/model_flops.h) at B 64, T 256 with the loss at every position, fp32,
// replayed as a CUDA graph as in training; TrainStepEager/deltanet the same launched call by call;
// TrainStepBf16/deltanet with train.precision: bf16 (bf16 GEMM operands with fp32 accumulation, bf16
// weight copies and stored activations: models/cuda/bf16.h).
// DeltaRuleKernel: the gated delta rule kernel alone, forward + backward, at fla's benchmark shape
// (B 8, H 2, T 2048, K = V = 64), so bench/peers/fla_speed.py's chunk_delta_rule is its peer.
// Reported: tokens/s; model GFLOP/s and that as a fraction of this GPU's fp32 GEMM rate, measured
// at start-up with cuBLAS on a large square product.
#include <benchmark/benchmark.h>

#include <chrono>

#include "bench/cuda/gpu_bench_main.h"
#include "bench/model_flops.h"
#include "common/rng.h"
#include "harness/train/training_backend.h"
#include "models/cuda/blas.h"
#include "models/cuda/runtime.h"
#include "models/kernels/cuda/gated_delta_rule.h"

namespace db {
namespace {

// cuBLAS's rate on an 8192^3 product, GFLOP/s: fp32 (no TF32), or bf16 operands with fp32
// accumulation and output (the tensor-core GEMM train.precision: bf16 uses, without the rounding)
double measure_gemm_gflops(bool bf16) {
  constexpr int n = 8192;
  cuda::Context ctx;
  cuda::DeviceBuffer<float> a(size_t(n) * n), b(size_t(n) * n), c(size_t(n) * n);
  cuda::DeviceBuffer<uint16_t> a16(size_t(n) * n), b16(size_t(n) * n);
  a.zero(ctx.stream()), b.zero(ctx.stream()), a16.zero(ctx.stream()), b16.zero(ctx.stream());
  const float one = 1.f, zero = 0.f;
  auto product = [&] {
    if (bf16)
      DB_CUDA_CHECK(cublasGemmEx(ctx.blas(), CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, b16.data(), CUDA_R_16BF, n,
                                 a16.data(), CUDA_R_16BF, n, &zero, c.data(), CUDA_R_32F, n, CUBLAS_COMPUTE_32F,
                                 CUBLAS_GEMM_DEFAULT));
    else
      cuda::gemm(ctx, false, false, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
  };
  product();  // warm-up
  ctx.synchronize();
  const int reps = bf16 ? 50 : 10;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) product();
  ctx.synchronize();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return 2.0 * n * n * double(n) * reps / seconds * 1e-9;
}

double gemm_rate(bool bf16) {
  static const double fp32_rate = measure_gemm_gflops(false), bf16_rate = measure_gemm_gflops(true);
  return bf16 ? bf16_rate : fp32_rate;
}

void BM_GpuGemm(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(gemm_rate(false));
  state.counters["GFLOP/s"] = gemm_rate(false);
  state.counters["bf16_GFLOP/s"] = gemm_rate(true);
  state.SetLabel(cuda::device_description());
}

void BM_TrainStep(benchmark::State& state, std::string mixer, std::string precision, bool graphs) {
  constexpr int B = 64, T = 256, N = 8192;
  const int D = static_cast<int>(state.range(0));
  Model model(bench::reference_config(mixer, D));
  model.initialize(1);
  AdamW optimizer(model.params(), {0.9, 0.999, 1e-8, 0.1});
  auto backend = make_gpu_training_backend(BackendOptions{"cuda", 0, precision, 1.0, graphs}, model, optimizer);
  Rng rng(3);
  Batch batch{B, T, std::vector<int32_t>(B * T), std::vector<int32_t>(B * T)};
  for (auto& t : batch.tokens) t = static_cast<int32_t>(rng.below(N));
  for (auto& t : batch.targets) t = static_cast<int32_t>(rng.below(N));
  for (int warm_up = 0; warm_up < 2; ++warm_up) backend->train_step(batch, 1e-3);  // allocated and captured
  backend->take_losses();
  // one iteration: the steps the trainer queues between two reads of their losses, then the read
  const int64_t steps = backend->steps_per_loss_read();
  for (auto _ : state) {
    for (int64_t s = 0; s < steps; ++s) backend->train_step(batch, 1e-3);
    benchmark::DoNotOptimize(backend->take_losses());
  }
  const double flops = bench::step_flops_per_token(model, mixer, T) * B * T * steps;
  state.counters["tokens/s"] = benchmark::Counter(double(B) * T * steps, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["ms/step"] = benchmark::Counter(1e-3 * steps, benchmark::Counter::kIsIterationInvariantRate |
                                                                       benchmark::Counter::kInvert);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["gemm_GFLOP/s"] = gemm_rate(precision == "bf16");
}

void BM_DeltaRuleKernel(benchmark::State& state) {
  constexpr int B = 8, H = 2, T = 2048, K = 64, V = 64, S = B * H;
  cuda::Context ctx;
  Rng rng(5);
  auto filled = [&](size_t n, double lo, double hi) {
    std::vector<float> host(n);
    for (auto& x : host) x = static_cast<float>(rng.uniform(lo, hi));
    auto buffer = std::make_unique<cuda::DeviceBuffer<float>>(n);
    cuda::upload(host.data(), buffer->data(), n, ctx.stream());
    return buffer;
  };
  // unit-length rows are not needed for speed; values in a stable range are
  auto q = filled(size_t(S) * T * K, -0.125, 0.125), k = filled(size_t(S) * T * K, -0.125, 0.125);
  auto v = filled(size_t(S) * T * V, -1, 1), beta = filled(size_t(S) * T, 0, 1), d_o = filled(size_t(S) * T * V, -1, 1);
  cuda::DeviceBuffer<float> o(size_t(S) * T * V), dq(q->size()), dk(k->size()), dv(v->size()), dbeta(beta->size());
  cuda::GpuDeltaRuleInputs in;
  in.S = S, in.T = T, in.K = K, in.V = V, in.q = q->data(), in.k = k->data(), in.v = v->data(), in.beta = beta->data();
  cuda::GpuDeltaRuleGrads grads;
  grads.dq = dq.data(), grads.dk = dk.data(), grads.dv = dv.data(), grads.dbeta = dbeta.data();
  cuda::GpuDeltaRuleWorkspace ws;
  auto run = [&] {
    cuda::gated_delta_rule_forward(ctx, in, o.data(), nullptr, ws);
    cuda::gated_delta_rule_backward(ctx, in, d_o->data(), nullptr, grads, ws);
  };
  run();
  ctx.synchronize();
  for (auto _ : state) {
    run();
    ctx.synchronize();
  }
  const double flops = 3.0 * gated_delta_rule_chunk_flops(T, K, V, 1, 64, false) * S;
  state.counters["tokens/s"] = benchmark::Counter(double(B) * T, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void register_benchmarks() {
  benchmark::RegisterBenchmark("GpuGemm", BM_GpuGemm)->Iterations(1);
  for (const char* mixer : {"deltanet", "gated_deltanet", "linear_attention", "softmax_attention"})
    benchmark::RegisterBenchmark((std::string("TrainStep/") + mixer).c_str(), BM_TrainStep, std::string(mixer),
                                 std::string("fp32"), true)
        ->ArgName("d")->Arg(64)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
  benchmark::RegisterBenchmark("TrainStepEager/deltanet", BM_TrainStep, std::string("deltanet"), std::string("fp32"), false)
      ->ArgName("d")->Arg(64)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
  benchmark::RegisterBenchmark("TrainStepBf16/deltanet", BM_TrainStep, std::string("deltanet"), std::string("bf16"), true)
      ->ArgName("d")->Arg(64)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
  benchmark::RegisterBenchmark("DeltaRuleKernel", BM_DeltaRuleKernel)->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
}

}  // namespace
}  // namespace db

int main(int argc, char** argv) { return db::bench::run_gpu_benchmarks(argc, argv, db::register_benchmarks); }
