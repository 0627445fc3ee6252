// bench_kernels.cpp: speed of the sequence-mixing kernels against the machine's own GEMM speed.
//
// The chunk kernels are sold on the claim that they turn the recurrence into dense matrix
// products, so their FLOP rate is reported next to a measured Eigen float GEMM rate on the same
// cores (both parallelised over independent problems with OpenMP, as the mixers parallelise over
// batch x head). Kernels run at B=8, H=2, K=V=64 for T in {128, 512, 2048}; counters: tokens/s
// (B*T per iteration) and GFLOP/s. Chunk FLOPs are the dense products the implementation executes
// (gated_delta_rule_chunk_flops / linear_attention_chunk_flops; formulas in the kernel sources).
// Recurrent FLOPs per token (n_h = 1, gated): forward 7KV (gate KV, u 2KV, rank-1 2KV, read 2KV);
// backward 22KV (replay 5KV, post-state 2KV, dq 2KV, dS += q do^T 2KV, d_delta 2KV, dk 4KV,
// dS -= k du^T 2KV, dg 2KV, gate KV). Linear attention recurrent: forward 4KV, backward 10KV.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cmath>
#include <map>
#include <vector>

#include "common/rng.h"
#include "models/kernels/gated_delta_rule.h"
#include "models/kernels/linear_attention.h"
#include "models/kernels/long_conv.h"
#include "models/layers/lm_head_loss.h"

namespace db {
namespace {

constexpr Index kBatch = 8, kHeads = 2, kDim = 64;
constexpr Index kSequences = kBatch * kHeads;
constexpr double kMinTime = 0.2;

// ---------------- GEMM reference rates ----------------

// C[64, n] = A[64, 64] B[64, n], one independent product per (b, h), parallel over them
void BM_GemmChunkShape(benchmark::State& state) {
  const Index n = state.range(0);
  std::vector<MatrixR> a(kSequences, MatrixR::Random(kDim, kDim)), b(kSequences, MatrixR::Random(kDim, n)),
      c(kSequences, MatrixR::Zero(kDim, n));
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (Index s = 0; s < kSequences; ++s) c[s].noalias() = a[s] * b[s];
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * kDim * kDim * static_cast<double>(n) * kSequences;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_GemmChunkShape)->Arg(64)->Arg(128)->Arg(512)->Arg(2048)->MinTime(kMinTime)->UseRealTime();

// the square 512^3 product, one per thread
void BM_GemmSquare512(benchmark::State& state) {
  const int threads = omp_get_max_threads();
  std::vector<MatrixR> a(threads, MatrixR::Random(512, 512)), b(threads, MatrixR::Random(512, 512)),
      c(threads, MatrixR::Zero(512, 512));
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (int s = 0; s < threads; ++s) c[s].noalias() = a[s] * b[s];
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * 512 * 512 * 512 * threads * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = threads;
}
BENCHMARK(BM_GemmSquare512)->MinTime(kMinTime)->UseRealTime();

// ---------------- kernel inputs ----------------

struct Problem {
  Index T;
  std::vector<real> q, k, v, beta, g, d_o, o, dq, dk, dv, dbeta, dg, ht, dh0;  // [BH, T, *] / [BH, K, V]
};

Problem make_problem(Index T) {
  Rng rng(42);
  Problem p;
  p.T = T;
  const size_t tk = kSequences * T * kDim;
  auto unit_rows = [&](std::vector<real>& x) {
    x.resize(tk);
    for (size_t r = 0; r < tk / kDim; ++r) {
      double n = 0;
      for (Index j = 0; j < kDim; ++j) { x[r * kDim + j] = static_cast<real>(rng.normal()); n += double(x[r * kDim + j]) * x[r * kDim + j]; }
      for (Index j = 0; j < kDim; ++j) x[r * kDim + j] = static_cast<real>(x[r * kDim + j] / std::sqrt(n));
    }
  };
  unit_rows(p.q);
  unit_rows(p.k);
  p.v.resize(tk);
  for (auto& x : p.v) x = static_cast<real>(rng.normal());
  p.d_o.resize(tk);
  for (auto& x : p.d_o) x = static_cast<real>(rng.normal());
  p.beta.resize(kSequences * T);
  for (auto& x : p.beta) x = static_cast<real>(rng.uniform(0.05, 1.95));
  p.g.resize(kSequences * T);
  for (auto& x : p.g) x = static_cast<real>(-std::log1p(std::exp(-(rng.normal() + 3.0))));
  for (auto* b : {&p.o, &p.dq, &p.dk, &p.dv}) b->assign(tk, 0);
  p.dbeta.assign(kSequences * T, 0);
  p.dg.assign(kSequences * T, 0);
  p.ht.assign(kSequences * kDim * kDim, 0);
  p.dh0.assign(kSequences * kDim * kDim, 0);
  return p;
}

// built once per T and reused, so that repetitions and profiles measure the kernels, not setup
Problem& cached_problem(Index T) {
  static std::map<Index, Problem> cache;
  auto it = cache.find(T);
  if (it == cache.end()) it = cache.emplace(T, make_problem(T)).first;
  return it->second;
}

DeltaRuleInputs delta_inputs(const Problem& p, Index s, Index chunk) {
  DeltaRuleInputs in;
  const Index T = p.T;
  in.T = T; in.K = kDim; in.V = kDim; in.n_h = 1; in.chunk = chunk;
  in.q = p.q.data() + s * T * kDim; in.k = p.k.data() + s * T * kDim; in.v = p.v.data() + s * T * kDim;
  in.beta = p.beta.data() + s * T; in.g = p.g.data() + s * T;
  return in;
}

DeltaRuleGrads delta_grads(Problem& p, Index s) {
  const Index T = p.T;
  return {p.dq.data() + s * T * kDim, p.dk.data() + s * T * kDim, p.dv.data() + s * T * kDim,
          p.dbeta.data() + s * T, p.dg.data() + s * T, p.dh0.data() + s * kDim * kDim};
}

void set_rates(benchmark::State& state, Index T, double flops_per_iteration) {
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(kBatch * T), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// ---------------- gated delta rule ----------------

template <bool Chunked, bool Backward>
void BM_GatedDeltaRule(benchmark::State& state) {
  const Index T = state.range(0), chunk = Chunked ? state.range(1) : 0;
  Problem& p = cached_problem(T);
  std::vector<DeltaRuleWorkspace> ws(kSequences);
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (Index s = 0; s < kSequences; ++s) {
      const DeltaRuleInputs in = delta_inputs(p, s, chunk);
      real* o = p.o.data() + s * T * kDim;
      real* ht = p.ht.data() + s * kDim * kDim;
      if (Chunked) gated_delta_rule_chunk_forward(in, o, ht, ws[s]);
      else gated_delta_rule_recurrent_forward(in, o, ht, ws[s]);
      if (Backward) {
        const real* d_o = p.d_o.data() + s * T * kDim;
        if (Chunked) gated_delta_rule_chunk_backward(in, d_o, nullptr, delta_grads(p, s), ws[s]);
        else gated_delta_rule_recurrent_backward(in, d_o, nullptr, delta_grads(p, s), ws[s]);
      }
    }
    benchmark::ClobberMemory();
  }
  const double kv = static_cast<double>(kDim) * kDim;
  const double flops = Chunked ? kSequences * gated_delta_rule_chunk_flops(T, kDim, kDim, 1, chunk, Backward)
                               : kSequences * static_cast<double>(T) * kv * (Backward ? 29.0 : 7.0);
  set_rates(state, T, flops);
}

void chunk_args(benchmark::internal::Benchmark* b) {
  for (int64_t T : {128, 512, 2048})
    for (int64_t C : {16, 32, 64}) b->Args({T, C});
}

BENCHMARK(BM_GatedDeltaRule<true, false>)->Name("DeltaChunkForward")->Apply(chunk_args)->MinTime(kMinTime)->UseRealTime();
BENCHMARK(BM_GatedDeltaRule<true, true>)->Name("DeltaChunkForwardBackward")->Apply(chunk_args)->MinTime(kMinTime)->UseRealTime();
BENCHMARK(BM_GatedDeltaRule<false, false>)->Name("DeltaRecurrentForward")->Arg(128)->Arg(512)->Arg(2048)->MinTime(kMinTime)->UseRealTime();
BENCHMARK(BM_GatedDeltaRule<false, true>)->Name("DeltaRecurrentForwardBackward")->Arg(128)->Arg(512)->Arg(2048)->MinTime(kMinTime)->UseRealTime();

// ---------------- linear attention ----------------

template <bool Chunked, bool Backward>
void BM_LinearAttention(benchmark::State& state) {
  const Index T = state.range(0), chunk = Chunked ? state.range(1) : 0;
  Problem& p = cached_problem(T);
  std::vector<LinearAttentionWorkspace> ws(kSequences);
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (Index s = 0; s < kSequences; ++s) {
      LinearAttentionInputs in;
      in.T = T; in.K = kDim; in.V = kDim; in.chunk = chunk;
      in.q = p.q.data() + s * T * kDim; in.k = p.k.data() + s * T * kDim; in.v = p.v.data() + s * T * kDim;
      real* o = p.o.data() + s * T * kDim;
      real* ht = p.ht.data() + s * kDim * kDim;
      if (Chunked) linear_attention_chunk_forward(in, o, ht, ws[s]);
      else linear_attention_recurrent_forward(in, o, ht, ws[s]);
      if (Backward) {
        const real* d_o = p.d_o.data() + s * T * kDim;
        const LinearAttentionGrads gr{p.dq.data() + s * T * kDim, p.dk.data() + s * T * kDim,
                                      p.dv.data() + s * T * kDim, p.dh0.data() + s * kDim * kDim};
        if (Chunked) linear_attention_chunk_backward(in, d_o, nullptr, gr, ws[s]);
        else linear_attention_recurrent_backward(in, d_o, nullptr, gr, ws[s]);
      }
    }
    benchmark::ClobberMemory();
  }
  const double kv = static_cast<double>(kDim) * kDim;
  const double flops = Chunked ? kSequences * linear_attention_chunk_flops(T, kDim, kDim, chunk, Backward)
                               : kSequences * static_cast<double>(T) * kv * (Backward ? 14.0 : 4.0);
  set_rates(state, T, flops);
}

BENCHMARK(BM_LinearAttention<true, false>)->Name("LinearChunkForward")->Apply(chunk_args)->MinTime(kMinTime)->UseRealTime();
BENCHMARK(BM_LinearAttention<true, true>)->Name("LinearChunkForwardBackward")->Apply(chunk_args)->MinTime(kMinTime)->UseRealTime();
BENCHMARK(BM_LinearAttention<false, false>)->Name("LinearRecurrentForward")->Arg(128)->Arg(512)->Arg(2048)->MinTime(kMinTime)->UseRealTime();
BENCHMARK(BM_LinearAttention<false, true>)->Name("LinearRecurrentForwardBackward")->Arg(128)->Arg(512)->Arg(2048)->MinTime(kMinTime)->UseRealTime();

// ---------------- long convolution (Hyena, H3, BaseConv) ----------------

// forward + backward (dx and dh) of the causal long convolution at B 8, C 512 channels, in the form
// given; the two forms side by side show where kLongConvFftMinLength should sit. FLOPs: the direct
// form's multiply-adds (3 sums of T(T+1)/2 terms per channel and row); the FFT form is reported at
// the same count, so its GFLOP/s reads as "direct-equivalent".
void BM_LongConv(benchmark::State& state, LongConvForm form) {
  const int B = 8, C = 512, T = static_cast<int>(state.range(0));
  Rng rng(11);
  std::vector<real> x(size_t(B) * T * C), dy(x.size()), y(x.size()), dx(x.size()), h(size_t(T) * C), dh(h.size());
  for (auto* v : {&x, &dy, &h})
    for (auto& e : *v) e = static_cast<real>(rng.normal());
  for (auto _ : state) {
    long_conv_forward(x.data(), h.data(), y.data(), B, T, C, form);
    long_conv_backward(x.data(), h.data(), dy.data(), dx.data(), dh.data(), B, T, C, form);
    benchmark::ClobberMemory();
  }
  set_rates(state, T, 3.0 * 2.0 * B * C * (double(T) * (T + 1) / 2.0));
}
BENCHMARK_CAPTURE(BM_LongConv, direct, LongConvForm::kDirect)->RangeMultiplier(2)->Range(32, 1024)->MinTime(kMinTime)->UseRealTime();
BENCHMARK_CAPTURE(BM_LongConv, fft, LongConvForm::kFft)->RangeMultiplier(2)->Range(32, 1024)->MinTime(kMinTime)->UseRealTime();

// ---------------- LM head with cross-entropy ----------------

// the reference step's head: logits, softmax cross-entropy and both gradients for all B*T = 16384
// rows of width 128 against a vocabulary of 8192 (three products of 2 M N D FLOPs each), the
// largest share of the reference training step's FLOPs
void BM_LmHeadLoss(benchmark::State& state) {
  const int64_t M = 16384;
  const int D = 128, N = 8192;
  Rng rng(13);
  std::vector<real> hidden(size_t(M) * D), weight(size_t(N) * D), dweight(weight.size());
  std::vector<int32_t> targets(M);
  for (auto& v : hidden) v = static_cast<real>(rng.normal());
  for (auto& v : weight) v = static_cast<real>(0.02 * rng.normal());
  for (auto& t : targets) t = static_cast<int32_t>(rng.below(N));
  LmHeadLoss head;
  head.forward(hidden.data(), M, D, weight.data(), nullptr, N, targets.data(), nullptr, 1.f / M);  // allocates
  head.backward(dweight.data(), nullptr);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        head.forward(hidden.data(), M, D, weight.data(), nullptr, N, targets.data(), nullptr, 1.f / M));
    benchmark::DoNotOptimize(head.backward(dweight.data(), nullptr));
  }
  state.counters["tokens/s"] = benchmark::Counter(double(M), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(3.0 * 2.0 * double(M) * N * D * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_LmHeadLoss)->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();

}  // namespace
}  // namespace db

BENCHMARK_MAIN();
