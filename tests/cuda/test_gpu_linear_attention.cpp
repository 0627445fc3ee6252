// test_gpu_linear_attention.cpp: the CUDA (gated) linear attention kernels against the CPU.
//
// Ungated runs are compared with the CPU chunk form (models/kernels/linear_attention.h), gated runs
// with a double-precision token loop written here (the recurrence of GatedLinearAttentionMixer:
// S_t = e^{g_t} S_{t-1} + k_t v_t^T, o_t = scale S_t^T q_t). Outputs, final states and every
// gradient must agree to a relative RMS of 1e-5 over S = 3 sequences, T in {1, 63, 64, 100, 257}
// (one token, a partial chunk, one full chunk, full + partial, several chunks), K = V = 32 and
// K = 64, V = 128 (plus one shape that is no multiple of the 64-wide tiles), with and without h0
// and dht. Also: strong gates (chunk decays far below float range) stay finite and correct,
// optional outputs may be null, and two runs give the same bits. Every test skips without a GPU.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/rng.h"
#include "models/cuda/runtime.h"
#include "models/kernels/cuda/linear_attention.h"
#include "models/kernels/linear_attention.h"
#include "tests/common/random_inputs.h"
#include "tests/common/relative_rms.h"
#include "tests/cuda/device_copies.h"

namespace db::cuda {
namespace {

using test::relative_rms;
using test::same_bits;
using test::to_device;
using test::to_host;
using Buf = std::vector<float>;

constexpr double kTolerance = 1e-5;
constexpr int kSequences = 3;

using test::normal;
using test::unit_rows;

// All S sequences, concatenated. h0 / dht empty when absent; g empty when ungated.
struct Data {
  int S = kSequences, T = 0, K = 0, V = 0;
  Buf q, k, v, g, h0, d_o, dht;
  size_t tk() const { return size_t(S) * T * K; }
  size_t tv() const { return size_t(S) * T * V; }
  size_t kv() const { return size_t(S) * K * V; }
};

// gate_strength multiplies a log-sigmoid gate (typically -0.13, down to about -3)
Data make_data(uint64_t seed, int T, int K, int V, bool gated, bool with_h0, bool with_dht,
               double gate_strength = 1.0) {
  Rng rng(seed);
  Data d;
  d.T = T, d.K = K, d.V = V;
  d.q = unit_rows(rng, size_t(d.S) * T, K);
  d.k = unit_rows(rng, size_t(d.S) * T, K);
  d.v = normal(rng, d.tv());
  d.d_o = normal(rng, d.tv());
  if (gated) {
    d.g.resize(size_t(d.S) * T);
    for (auto& x : d.g) x = static_cast<float>(-gate_strength * std::log1p(std::exp(-(rng.normal() + 2.0))));
  }
  if (with_h0) d.h0 = normal(rng, d.kv());
  if (with_dht) d.dht = normal(rng, d.kv());
  return d;
}

struct Result {
  Buf o, ht, dq, dk, dv, dg, dh0;
};

struct Wanted {
  bool ht = true, dg = true, dh0 = true;
};

// forward then backward on the GPU; ws may carry over from an earlier call
Result run_gpu(const Context& ctx, const Data& d, GpuLinearAttentionWorkspace& ws, Wanted wanted = {}) {
  const bool gated = !d.g.empty();
  auto q = to_device(ctx, d.q), k = to_device(ctx, d.k), v = to_device(ctx, d.v), g = to_device(ctx, d.g);
  auto h0 = to_device(ctx, d.h0), d_o = to_device(ctx, d.d_o), dht = to_device(ctx, d.dht);
  DeviceBuffer<float> o(d.tv()), ht(d.kv()), dq(d.tk()), dk(d.tk()), dv(d.tv()), dg(size_t(d.S) * d.T), dh0(d.kv());
  GpuLinearAttentionInputs in;
  in.S = d.S, in.T = d.T, in.K = d.K, in.V = d.V;
  in.q = q.data(), in.k = k.data(), in.v = v.data();
  in.g = gated ? g.data() : nullptr;
  in.h0 = d.h0.empty() ? nullptr : h0.data();
  linear_attention_forward(ctx, in, o.data(), wanted.ht ? ht.data() : nullptr, ws);
  GpuLinearAttentionGrads grads{dq.data(), dk.data(), dv.data(), gated && wanted.dg ? dg.data() : nullptr,
                                wanted.dh0 ? dh0.data() : nullptr};
  linear_attention_backward(ctx, in, d_o.data(), d.dht.empty() ? nullptr : dht.data(), grads, ws);
  Result r;
  r.o = to_host(ctx, o), r.dq = to_host(ctx, dq), r.dk = to_host(ctx, dk), r.dv = to_host(ctx, dv);
  if (wanted.ht) r.ht = to_host(ctx, ht);
  if (wanted.dh0) r.dh0 = to_host(ctx, dh0);
  if (gated && wanted.dg) r.dg = to_host(ctx, dg);
  return r;
}

// the CPU chunk form, one sequence at a time (ungated)
Result reference_ungated(const Data& d) {
  Result r;
  r.o.resize(d.tv()), r.ht.resize(d.kv()), r.dq.resize(d.tk()), r.dk.resize(d.tk()), r.dv.resize(d.tv());
  r.dh0.resize(d.kv());
  const size_t TK = size_t(d.T) * d.K, TV = size_t(d.T) * d.V, KV = size_t(d.K) * d.V;
  for (int s = 0; s < d.S; ++s) {
    LinearAttentionInputs in;
    in.T = d.T, in.K = d.K, in.V = d.V, in.chunk = 64;
    in.q = d.q.data() + s * TK, in.k = d.k.data() + s * TK, in.v = d.v.data() + s * TV;
    in.h0 = d.h0.empty() ? nullptr : d.h0.data() + s * KV;
    LinearAttentionWorkspace ws;
    linear_attention_chunk_forward(in, r.o.data() + s * TV, r.ht.data() + s * KV, ws);
    const LinearAttentionGrads grads{r.dq.data() + s * TK, r.dk.data() + s * TK, r.dv.data() + s * TV,
                                     r.dh0.data() + s * KV};
    linear_attention_chunk_backward(in, d.d_o.data() + s * TV, d.dht.empty() ? nullptr : d.dht.data() + s * KV,
                                    grads, ws);
  }
  return r;
}

// the token loop of GatedLinearAttentionMixer::run_recurrence_*, in double (gated)
Result reference_gated(const Data& d) {
  const int T = d.T, K = d.K, V = d.V;
  const size_t TK = size_t(T) * K, TV = size_t(T) * V, KV = size_t(K) * V;
  const double scale = 1.0 / std::sqrt(double(K));
  Result r;
  r.o.resize(d.tv()), r.ht.resize(d.kv()), r.dq.resize(d.tk()), r.dk.resize(d.tk()), r.dv.resize(d.tv());
  r.dg.resize(size_t(d.S) * T), r.dh0.resize(d.kv());
  std::vector<double> states((T + 1) * KV), dS(KV);
  for (int s = 0; s < d.S; ++s) {
    const float *q = d.q.data() + s * TK, *k = d.k.data() + s * TK, *v = d.v.data() + s * TV;
    const float *g = d.g.data() + size_t(s) * T, *d_o = d.d_o.data() + s * TV;
    for (size_t i = 0; i < KV; ++i) states[i] = d.h0.empty() ? 0.0 : d.h0[s * KV + i];
    for (int t = 0; t < T; ++t) {
      const double* prev = states.data() + t * KV;
      double* cur = states.data() + (t + 1) * KV;
      const double decay = std::exp(double(g[t]));
      for (int a = 0; a < K; ++a)
        for (int b = 0; b < V; ++b)
          cur[a * V + b] = decay * prev[a * V + b] + double(k[t * K + a]) * v[t * V + b];
      for (int b = 0; b < V; ++b) {
        double sum = 0;
        for (int a = 0; a < K; ++a) sum += cur[a * V + b] * q[t * K + a];
        r.o[s * TV + t * V + b] = static_cast<float>(scale * sum);
      }
    }
    for (size_t i = 0; i < KV; ++i) {
      r.ht[s * KV + i] = static_cast<float>(states[T * KV + i]);
      dS[i] = d.dht.empty() ? 0.0 : d.dht[s * KV + i];
    }
    for (int t = T - 1; t >= 0; --t) {
      const double* prev = states.data() + t * KV;
      const double* cur = states.data() + (t + 1) * KV;
      for (int a = 0; a < K; ++a) {
        double sum = 0;
        for (int b = 0; b < V; ++b) sum += cur[a * V + b] * d_o[t * V + b];
        r.dq[s * TK + t * K + a] = static_cast<float>(scale * sum);
      }
      for (int a = 0; a < K; ++a)
        for (int b = 0; b < V; ++b) dS[a * V + b] += scale * q[t * K + a] * d_o[t * V + b];
      for (int a = 0; a < K; ++a) {
        double sum = 0;
        for (int b = 0; b < V; ++b) sum += dS[a * V + b] * v[t * V + b];
        r.dk[s * TK + t * K + a] = static_cast<float>(sum);
      }
      for (int b = 0; b < V; ++b) {
        double sum = 0;
        for (int a = 0; a < K; ++a) sum += dS[a * V + b] * k[t * K + a];
        r.dv[s * TV + t * V + b] = static_cast<float>(sum);
      }
      const double decay = std::exp(double(g[t]));
      double sum = 0;
      for (size_t i = 0; i < KV; ++i) sum += prev[i] * dS[i];
      r.dg[size_t(s) * T + t] = static_cast<float>(decay * sum);
      for (auto& x : dS) x *= decay;
    }
    for (size_t i = 0; i < KV; ++i) r.dh0[s * KV + i] = static_cast<float>(dS[i]);
  }
  return r;
}

void expect_close(const Result& got, const Result& ref, bool gated, const std::string& what) {
  const std::pair<const char*, std::pair<const Buf*, const Buf*>> pairs[] = {
      {"o", {&got.o, &ref.o}},    {"ht", {&got.ht, &ref.ht}}, {"dq", {&got.dq, &ref.dq}},   {"dk", {&got.dk, &ref.dk}},
      {"dv", {&got.dv, &ref.dv}}, {"dg", {&got.dg, &ref.dg}}, {"dh0", {&got.dh0, &ref.dh0}},
  };
  for (const auto& [name, bufs] : pairs) {
    if (std::string(name) == "dg" && !gated) continue;
    ASSERT_EQ(bufs.first->size(), bufs.second->size()) << what << " " << name;
    for (float x : *bufs.first) ASSERT_TRUE(std::isfinite(x)) << what << " " << name << " not finite";
    EXPECT_LE(relative_rms(*bufs.first, *bufs.second), kTolerance) << what << " " << name;
  }
}

struct Case {
  int T, K, V;
  bool gated, h0, dht;
};

std::string case_name(const Case& c) {
  return fmt::format("T{}_K{}_V{}_{}{}{}", c.T, c.K, c.V, c.gated ? "gated" : "plain", c.h0 ? "_h0" : "",
                     c.dht ? "_dht" : "");
}

class GpuLinearAttention : public ::testing::TestWithParam<Case> {};

TEST_P(GpuLinearAttention, MatchesCpuReference) {
  SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Data d = make_data(1000 + c.T * 7 + c.K, c.T, c.K, c.V, c.gated, c.h0, c.dht);
  Context ctx;
  GpuLinearAttentionWorkspace ws;
  const Result got = run_gpu(ctx, d, ws);
  const Result ref = c.gated ? reference_gated(d) : reference_ungated(d);
  expect_close(got, ref, c.gated, case_name(c));
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (int T : {1, 63, 64, 100, 257})
    for (auto [K, V] : {std::pair{32, 32}, std::pair{64, 128}})
      for (bool gated : {false, true})
        for (bool h0 : {false, true})
          for (bool dht : {false, true}) cases.push_back({T, K, V, gated, h0, dht});
  // dims that are no multiple of the 64-wide tiles nor of the 32-wide reduction slices
  for (bool gated : {false, true}) cases.push_back({130, 40, 72, gated, true, true});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, GpuLinearAttention, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return case_name(info.param); });

// gates of -0.5 to -30 per token: whole-chunk decays underflow float; only differences are exponentiated
TEST(GpuLinearAttentionGates, StrongGatesStayFiniteAndCorrect) {
  SKIP_WITHOUT_GPU();
  const Data d = make_data(77, 257, 64, 128, true, true, true, 8.0);
  Context ctx;
  GpuLinearAttentionWorkspace ws;
  expect_close(run_gpu(ctx, d, ws), reference_gated(d), true, "strong gates");
}

// ht, dh0 and dg may be null; the rest is unchanged (same kernels, same bits)
TEST(GpuLinearAttentionGates, OptionalOutputsMayBeNull) {
  SKIP_WITHOUT_GPU();
  const Data d = make_data(5, 100, 32, 32, true, true, true);
  Context ctx;
  GpuLinearAttentionWorkspace ws;
  const Result all = run_gpu(ctx, d, ws);
  const Result some = run_gpu(ctx, d, ws, Wanted{false, false, false});
  EXPECT_EQ(all.o, some.o);
  EXPECT_EQ(all.dq, some.dq);
  EXPECT_EQ(all.dk, some.dk);
  EXPECT_EQ(all.dv, some.dv);
}

// the backward refuses a workspace that holds another shape's forward
TEST(GpuLinearAttentionGates, BackwardChecksTheWorkspace) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  GpuLinearAttentionWorkspace ws;
  GpuLinearAttentionInputs in;
  in.S = 1, in.T = 4, in.K = 8, in.V = 8;
  DeviceBuffer<float> buf(64);
  in.q = in.k = in.v = buf.data();
  GpuLinearAttentionGrads grads{buf.data(), buf.data(), buf.data(), nullptr, nullptr};
  EXPECT_THROW(linear_attention_backward(ctx, in, buf.data(), nullptr, grads, ws), std::logic_error);
}

// same inputs, same bits: a fresh workspace, and a workspace reused after another shape
TEST(GpuLinearAttentionGates, Deterministic) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  for (bool gated : {false, true}) {
    const Data d = make_data(11, 257, 64, 128, gated, true, true);
    GpuLinearAttentionWorkspace ws1, ws2;
    const Result a = run_gpu(ctx, d, ws1);
    run_gpu(ctx, make_data(12, 63, 64, 128, !gated, false, false), ws2);
    const Result b = run_gpu(ctx, d, ws2);
    const Result c = run_gpu(ctx, d, ws1);
    for (const Result* r : {&b, &c}) {
      EXPECT_TRUE(same_bits(a.o, r->o)) << "o";
      EXPECT_TRUE(same_bits(a.ht, r->ht)) << "ht";
      EXPECT_TRUE(same_bits(a.dq, r->dq)) << "dq";
      EXPECT_TRUE(same_bits(a.dk, r->dk)) << "dk";
      EXPECT_TRUE(same_bits(a.dv, r->dv)) << "dv";
      EXPECT_TRUE(same_bits(a.dg, r->dg)) << "dg";
      EXPECT_TRUE(same_bits(a.dh0, r->dh0)) << "dh0";
    }
  }
}

}  // namespace
}  // namespace db::cuda
