// test_gpu_gated_delta_rule.cpp: the GPU gated delta rule against the CPU chunk kernel.
//
// S = 3 sequences per call; every sequence also runs through gated_delta_rule_chunk_* on the CPU
// (chunk 64, like the GPU). Outputs, final states and every gradient must agree to a relative RMS
// of 1e-5 over partial last chunks, DeltaProduct chunks that split tokens (n_h 2, 3), gates, beta in
// (0, 1) and (0, 2), with and without h0 / dht, and K = V = 32 (one 32-wide tile) and K = 64,
// V = 128 (64-wide tiles, two V tiles). Further shapes cover K, V that are not multiples of a tile,
// several K tiles, and the largest K = V = 256. Gradient buffers are filled with NaN before each
// backward, so a gradient that is not overwritten shows. The GPU path must give the same bits on
// every run. Every test skips where no GPU is visible.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/rng.h"
#include "models/cuda/runtime.h"
#include "models/kernels/cuda/gated_delta_rule.h"
#include "models/kernels/gated_delta_rule.h"
#include "tests/common/random_inputs.h"
#include "tests/common/relative_rms.h"
#include "tests/cuda/device_copies.h"

namespace db {
namespace {

using test::relative_rms;
using test::same_bits;
using test::to_device;
using test::to_host;
using Buf = std::vector<float>;

constexpr double kTolerance = 1e-5;
constexpr int kSequences = 3;

struct Case {
  int T, n_h;
  bool gated, negative_eigenvalues, with_h0, with_dht;
  int K, V;
};

std::string case_name(const Case& c) {
  return fmt::format("T{}_nh{}_{}_{}_{}{}_K{}V{}", c.T, c.n_h, c.gated ? "gated" : "nogate",
                     c.negative_eigenvalues ? "neg" : "pos", c.with_h0 ? "h0" : "noh0", c.with_dht ? "dht" : "nodht",
                     c.K, c.V);
}

using test::normal;
using test::unit_rows;

// all kSequences sequences, [S, ...] like the GPU buffers
struct Data {
  Case c;
  Buf q, k, v, beta, g, h0, d_o, dht;
  size_t P() const { return static_cast<size_t>(c.T) * c.n_h; }
};

Data make_data(const Case& c, uint64_t seed) {
  Rng rng(seed);
  Data d;
  d.c = c;
  const size_t S = kSequences, T = c.T, P = d.P(), K = c.K, V = c.V;
  d.q = unit_rows(rng, S * T, K);
  d.k = unit_rows(rng, S * P, K);
  d.v = normal(rng, S * P * V);
  d.beta.resize(S * P);
  for (auto& b : d.beta) b = static_cast<float>(rng.uniform(0.02, 0.98) * (c.negative_eigenvalues ? 2.0 : 1.0));
  d.g.resize(S * T);
  for (auto& x : d.g) x = static_cast<float>(-std::log1p(std::exp(-(rng.normal() + 2.0))));  // log-sigmoid, < 0
  d.h0 = normal(rng, S * K * V);
  d.d_o = normal(rng, S * T * V);
  d.dht = normal(rng, S * K * V);
  return d;
}

struct Result {
  Buf o, ht, dq, dk, dv, dbeta, dg, dh0;
};

Result empty_result(const Data& d) {
  const size_t S = kSequences, T = d.c.T, P = d.P(), K = d.c.K, V = d.c.V;
  return Result{Buf(S * T * V), Buf(S * K * V), Buf(S * T * K), Buf(S * P * K),
                Buf(S * P * V), Buf(S * P),     Buf(S * T),     Buf(S * K * V)};
}

// the reference: each sequence through the CPU chunk kernel
Result run_cpu(const Data& d) {
  Result r = empty_result(d);
  const Case& c = d.c;
  const size_t T = c.T, P = d.P(), K = c.K, V = c.V;
  DeltaRuleWorkspace ws;
  for (size_t s = 0; s < kSequences; ++s) {
    DeltaRuleInputs in;
    in.T = c.T, in.K = c.K, in.V = c.V, in.n_h = c.n_h, in.chunk = 64;
    in.q = d.q.data() + s * T * K, in.k = d.k.data() + s * P * K, in.v = d.v.data() + s * P * V;
    in.beta = d.beta.data() + s * P;
    in.g = c.gated ? d.g.data() + s * T : nullptr;
    in.h0 = c.with_h0 ? d.h0.data() + s * K * V : nullptr;
    gated_delta_rule_chunk_forward(in, r.o.data() + s * T * V, r.ht.data() + s * K * V, ws);
    const DeltaRuleGrads gr{r.dq.data() + s * T * K,  r.dk.data() + s * P * K,
                            r.dv.data() + s * P * V,  r.dbeta.data() + s * P,
                            c.gated ? r.dg.data() + s * T : nullptr, r.dh0.data() + s * K * V};
    gated_delta_rule_chunk_backward(in, d.d_o.data() + s * T * V, c.with_dht ? d.dht.data() + s * K * V : nullptr,
                                    gr, ws);
  }
  return r;
}

cuda::Context& context() {
  static std::unique_ptr<cuda::Context> ctx = std::make_unique<cuda::Context>(0);
  return *ctx;
}

void fill_nan(cuda::DeviceBuffer<float>& b, cudaStream_t stream) {
  if (b.size()) DB_CUDA_CHECK(cudaMemsetAsync(b.data(), 0xff, b.bytes(), stream));
}

// the GPU path: `passes` forward/backward pairs on the same workspace (the last one is returned)
Result run_gpu(const Data& d, cuda::GpuDeltaRuleWorkspace& ws, int passes = 1) {
  cuda::Context& ctx = context();
  const cudaStream_t stream = ctx.stream();
  const Case& c = d.c;
  Result r = empty_result(d);
  auto q = to_device(ctx, d.q), k = to_device(ctx, d.k), v = to_device(ctx, d.v);
  auto beta = to_device(ctx, d.beta), g = to_device(ctx, d.g), h0 = to_device(ctx, d.h0);
  auto d_o = to_device(ctx, d.d_o), dht = to_device(ctx, d.dht);
  cuda::DeviceBuffer<float> o(r.o.size()), ht(r.ht.size()), dq(r.dq.size()), dk(r.dk.size()), dv(r.dv.size()),
      dbeta(r.dbeta.size()), dg(r.dg.size()), dh0(r.dh0.size());

  cuda::GpuDeltaRuleInputs in;
  in.S = kSequences, in.T = c.T, in.K = c.K, in.V = c.V, in.n_h = c.n_h;
  in.q = q.data(), in.k = k.data(), in.v = v.data(), in.beta = beta.data();
  in.g = c.gated ? g.data() : nullptr;
  in.h0 = c.with_h0 ? h0.data() : nullptr;
  const cuda::GpuDeltaRuleGrads grads{dq.data(), dk.data(), dv.data(), dbeta.data(), c.gated ? dg.data() : nullptr,
                                      dh0.data()};
  for (int pass = 0; pass < passes; ++pass) {
    for (auto* b : {&o, &ht, &dq, &dk, &dv, &dbeta, &dg, &dh0}) fill_nan(*b, stream);
    cuda::gated_delta_rule_forward(ctx, in, o.data(), ht.data(), ws);
    cuda::gated_delta_rule_backward(ctx, in, d_o.data(), c.with_dht ? dht.data() : nullptr, grads, ws);
  }
  r.o = to_host(ctx, o), r.ht = to_host(ctx, ht), r.dq = to_host(ctx, dq), r.dk = to_host(ctx, dk);
  r.dv = to_host(ctx, dv), r.dbeta = to_host(ctx, dbeta), r.dh0 = to_host(ctx, dh0);
  if (c.gated) r.dg = to_host(ctx, dg);  // else the zeros of empty_result
  return r;
}

double max_abs(const Buf& x) {
  double m = 0;
  for (float e : x) m = std::max(m, static_cast<double>(std::fabs(e)));
  return m;
}

void expect_close(const Result& got, const Result& ref, const Case& c) {
  EXPECT_LE(relative_rms(got.o, ref.o), kTolerance) << "o";
  EXPECT_LE(relative_rms(got.ht, ref.ht), kTolerance) << "ht";
  EXPECT_LE(relative_rms(got.dq, ref.dq), kTolerance) << "dq";
  EXPECT_LE(relative_rms(got.dk, ref.dk), kTolerance) << "dk";
  EXPECT_LE(relative_rms(got.dv, ref.dv), kTolerance) << "dv";
  EXPECT_LE(relative_rms(got.dbeta, ref.dbeta), kTolerance) << "dbeta";
  if (c.gated && c.T == 1 && !c.with_h0) {
    // the only gate multiplies a zero state: dg is 0 up to rounding on both sides, and a relative
    // measure of two rounding noises means nothing
    EXPECT_LE(max_abs(got.dg), 1e-6) << "dg";
  } else if (c.gated) {
    EXPECT_LE(relative_rms(got.dg, ref.dg), kTolerance) << "dg";
  }
  EXPECT_LE(relative_rms(got.dh0, ref.dh0), kTolerance) << "dh0";
}

uint64_t seed_of(const Case& c) {
  return 7000 + 131 * static_cast<uint64_t>(c.T) + 17 * c.n_h + 5 * c.K + c.V + (c.gated ? 1 : 0);
}

// one workspace across all cases: reusing a grown workspace for smaller shapes must be harmless
cuda::GpuDeltaRuleWorkspace& shared_workspace() {
  static cuda::GpuDeltaRuleWorkspace ws;
  return ws;
}

class GpuGatedDeltaRule : public ::testing::TestWithParam<Case> {};

TEST_P(GpuGatedDeltaRule, MatchesCpuChunkKernel) {
  SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Data d = make_data(c, seed_of(c));
  expect_close(run_gpu(d, shared_workspace()), run_cpu(d), c);
}

std::vector<Case> main_cases() {
  std::vector<Case> cases;
  for (auto [K, V] : {std::pair{32, 32}, std::pair{64, 128}})
    for (int T : {1, 63, 64, 100, 257})
      for (int n_h : {1, 2, 3})
        for (bool gated : {false, true})
          for (bool negative : {false, true})
            for (bool states : {false, true}) cases.push_back({T, n_h, gated, negative, states, states, K, V});
  return cases;
}

// K, V off the tile widths, several K tiles, the largest dims, h0 without dht and the reverse, n_h 4
std::vector<Case> shape_cases() {
  return {
      {130, 2, true, true, true, false, 16, 16},    {130, 1, true, false, false, true, 48, 80},
      {77, 4, true, true, true, true, 100, 36},     {200, 1, false, true, true, true, 128, 64},
      {130, 3, true, true, true, true, 256, 256},   {65, 1, true, false, true, true, 256, 32},
      {64, 4, false, false, false, false, 33, 200}, {300, 2, true, true, true, true, 64, 64},
  };
}

INSTANTIATE_TEST_SUITE_P(Main, GpuGatedDeltaRule, ::testing::ValuesIn(main_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return case_name(info.param); });
INSTANTIATE_TEST_SUITE_P(Shapes, GpuGatedDeltaRule, ::testing::ValuesIn(shape_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return case_name(info.param); });

// two runs (a fresh workspace, then a reused one after two passes) give the same bits
TEST(GpuGatedDeltaRuleDeterminism, SameBitsEveryRun) {
  SKIP_WITHOUT_GPU();
  for (const Case& c : {Case{300, 2, true, true, true, true, 64, 64}, Case{257, 1, false, true, true, true, 32, 32}}) {
    SCOPED_TRACE(case_name(c));
    const Data d = make_data(c, 99);
    cuda::GpuDeltaRuleWorkspace ws1, ws2;
    const Result a = run_gpu(d, ws1);
    const Result b = run_gpu(d, ws2, 2);
    EXPECT_TRUE(same_bits(a.o, b.o));
    EXPECT_TRUE(same_bits(a.ht, b.ht));
    EXPECT_TRUE(same_bits(a.dq, b.dq));
    EXPECT_TRUE(same_bits(a.dk, b.dk));
    EXPECT_TRUE(same_bits(a.dv, b.dv));
    EXPECT_TRUE(same_bits(a.dbeta, b.dbeta));
    EXPECT_TRUE(same_bits(a.dg, b.dg));
    EXPECT_TRUE(same_bits(a.dh0, b.dh0));
  }
}

// a workspace that has seen one shape allocates nothing for it again
TEST(GpuGatedDeltaRuleWorkspace, GrowsOnlyOnce) {
  SKIP_WITHOUT_GPU();
  const Case c{100, 2, true, false, true, true, 64, 64};
  const Data d = make_data(c, 5);
  cuda::GpuDeltaRuleWorkspace ws;
  run_gpu(d, ws);
  const float* before[] = {ws.g_cum.data(), ws.t_hat.data(), ws.w.data(),  ws.v_new.data(), ws.states.data(),
                           ws.dv_new.data(), ws.dstates.data(), ws.dw.data(), ws.dg_part.data()};
  const size_t bytes = ws.bytes();
  run_gpu(d, ws);
  const float* after[] = {ws.g_cum.data(), ws.t_hat.data(), ws.w.data(),  ws.v_new.data(), ws.states.data(),
                          ws.dv_new.data(), ws.dstates.data(), ws.dw.data(), ws.dg_part.data()};
  for (size_t i = 0; i < std::size(before); ++i) EXPECT_EQ(before[i], after[i]) << "buffer " << i;
  EXPECT_EQ(bytes, ws.bytes());
}

// the backward refuses a workspace that holds another shape's forward
TEST(GpuGatedDeltaRuleWorkspace, BackwardChecksTheForward) {
  SKIP_WITHOUT_GPU();
  cuda::GpuDeltaRuleWorkspace ws;
  cuda::GpuDeltaRuleInputs in;
  in.S = 1, in.T = 4, in.K = 8, in.V = 8;
  float* dummy = reinterpret_cast<float*>(16);  // never dereferenced: the check comes first
  in.q = in.k = in.v = in.beta = dummy;
  const cuda::GpuDeltaRuleGrads grads{dummy, dummy, dummy, dummy, nullptr, nullptr};
  EXPECT_THROW(cuda::gated_delta_rule_backward(context(), in, dummy, nullptr, grads, ws), std::logic_error);
  in.K = 300;
  EXPECT_THROW(cuda::gated_delta_rule_forward(context(), in, dummy, nullptr, ws), std::invalid_argument);
}

}  // namespace
}  // namespace db
