// test_kernel_reference.cpp: the gated delta-rule kernels (float64) against independent reference vectors.
//
// tests/data/reference/kernel_*.safetensors hold inputs, outputs and every gradient of
// sum(o*do) + sum(ht*dht) from a token-by-token float64 PyTorch autograd implementation. Both the
// recurrent and the chunk form (C = 16, 32, 64) must reproduce them to a relative RMS of 1e-9.
// Central finite differences on a tiny case show that the recurrent backward is right on its own
// (independently of the reference files), and small odd chunk sizes that split tokens show that
// the interleaved chunking is exact.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "common/rng.h"
#include "common/safetensors.h"
#include "models/kernels/gated_delta_rule.h"
#include "tests/common/relative_rms.h"

namespace db {
namespace {

using test::relative_rms;

static_assert(std::is_same_v<real, double>, "this test needs the float64 build");


enum class Form { recurrent, chunk };

struct KernelRun {
  std::vector<double> o, ht, dq, dk, dv, dbeta, dg, dh0;
};

// Runs one form over every (b, h) of a reference file. `use_gate` = false passes g = nullptr.
KernelRun run_reference_file(const SafetensorsFile& f, Form form, Index chunk, bool use_gate) {
  const auto& qs = f.shape("q");
  const Index B = qs[0], H = qs[1], T = qs[2], K = qs[3];
  const Index V = f.shape("v")[3];
  const Index n_h = f.shape("k")[2] / T;
  const auto q = f.f64("q"), k = f.f64("k"), v = f.f64("v"), beta = f.f64("beta"), g = f.f64("g"), h0 = f.f64("h0");
  const auto d_o = f.f64("do"), dht = f.f64("dht");
  const Index P = T * n_h;
  KernelRun r;
  r.o.resize(B * H * T * V); r.ht.resize(B * H * K * V);
  r.dq.resize(B * H * T * K); r.dk.resize(B * H * P * K); r.dv.resize(B * H * P * V);
  r.dbeta.resize(B * H * P); r.dg.resize(B * H * T); r.dh0.resize(B * H * K * V);
  DeltaRuleWorkspace ws;
  for (Index bh = 0; bh < B * H; ++bh) {
    DeltaRuleInputs in;
    in.T = T; in.K = K; in.V = V; in.n_h = n_h; in.chunk = chunk;
    in.scale = std::stod(f.meta("scale", "0"));
    in.q = q.data() + bh * T * K; in.k = k.data() + bh * P * K; in.v = v.data() + bh * P * V;
    in.beta = beta.data() + bh * P; in.g = use_gate ? g.data() + bh * T : nullptr; in.h0 = h0.data() + bh * K * V;
    DeltaRuleGrads gr{r.dq.data() + bh * T * K, r.dk.data() + bh * P * K, r.dv.data() + bh * P * V,
                      r.dbeta.data() + bh * P, use_gate ? r.dg.data() + bh * T : nullptr, r.dh0.data() + bh * K * V};
    if (form == Form::recurrent) {
      gated_delta_rule_recurrent_forward(in, r.o.data() + bh * T * V, r.ht.data() + bh * K * V, ws);
      gated_delta_rule_recurrent_backward(in, d_o.data() + bh * T * V, dht.data() + bh * K * V, gr, ws);
    } else {
      gated_delta_rule_chunk_forward(in, r.o.data() + bh * T * V, r.ht.data() + bh * K * V, ws);
      gated_delta_rule_chunk_backward(in, d_o.data() + bh * T * V, dht.data() + bh * K * V, gr, ws);
    }
  }
  return r;
}

const std::vector<std::string> kReferenceFiles = {"kernel_deltanet", "kernel_deltanet_neg", "kernel_gated_deltanet_neg",
                                                  "kernel_deltaproduct3_gated_neg"};

struct ReferenceCase {
  std::string file;
  Form form;
  Index chunk;
};

class KernelReference : public ::testing::TestWithParam<ReferenceCase> {};

TEST_P(KernelReference, MatchesFileToRelativeRms1e9) {
  const auto& c = GetParam();
  const auto f = read_safetensors(std::string(DELTABENCH_TEST_DATA_DIR) + "/reference/" + c.file + ".safetensors");
  const double tol = 1e-9;
  const KernelRun r = run_reference_file(f, c.form, c.chunk, true);
  EXPECT_LE(relative_rms(r.o, f.f64("o")), tol);
  EXPECT_LE(relative_rms(r.ht, f.f64("ht")), tol);
  EXPECT_LE(relative_rms(r.dq, f.f64("dq")), tol);
  EXPECT_LE(relative_rms(r.dk, f.f64("dk")), tol);
  EXPECT_LE(relative_rms(r.dv, f.f64("dv")), tol);
  EXPECT_LE(relative_rms(r.dbeta, f.f64("dbeta")), tol);
  EXPECT_LE(relative_rms(r.dg, f.f64("dg")), tol);
  EXPECT_LE(relative_rms(r.dh0, f.f64("dh0")), tol);

  // where the file's gate is identically 0, g = nullptr (plain DeltaNet) must give the same answers
  const auto g = f.f64("g");
  bool zero_gate = true;
  for (double x : g) zero_gate = zero_gate && x == 0.0;
  if (zero_gate) {
    const KernelRun u = run_reference_file(f, c.form, c.chunk, false);
    EXPECT_LE(relative_rms(u.o, f.f64("o")), tol);
    EXPECT_LE(relative_rms(u.ht, f.f64("ht")), tol);
    EXPECT_LE(relative_rms(u.dq, f.f64("dq")), tol);
    EXPECT_LE(relative_rms(u.dk, f.f64("dk")), tol);
    EXPECT_LE(relative_rms(u.dv, f.f64("dv")), tol);
    EXPECT_LE(relative_rms(u.dbeta, f.f64("dbeta")), tol);
    EXPECT_LE(relative_rms(u.dh0, f.f64("dh0")), tol);
  }
}

std::vector<ReferenceCase> reference_cases() {
  std::vector<ReferenceCase> cases;
  for (const auto& file : kReferenceFiles) {
    cases.push_back({file, Form::recurrent, 0});
    for (Index c : {16, 32, 64}) cases.push_back({file, Form::chunk, c});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Files, KernelReference, ::testing::ValuesIn(reference_cases()),
                         [](const ::testing::TestParamInfo<ReferenceCase>& info) {
                           const auto& c = info.param;
                           return c.file + (c.form == Form::recurrent ? std::string("_recurrent")
                                                                      : "_chunk" + std::to_string(c.chunk));
                         });

// ---------- finite differences on a tiny case ----------

struct TinyCase {
  Index T = 5, K = 3, V = 3, n_h = 2;
  std::vector<double> q, k, v, beta, g, h0, d_o, dht;
};

TinyCase make_tiny_case() {
  TinyCase c;
  Rng rng(20240601);
  const Index P = c.T * c.n_h;
  auto normal_rows = [&](Index rows, Index cols) {
    std::vector<double> x(rows * cols);
    for (Index r = 0; r < rows; ++r) {
      double n = 0;
      for (Index j = 0; j < cols; ++j) { x[r * cols + j] = rng.normal(); n += x[r * cols + j] * x[r * cols + j]; }
      for (Index j = 0; j < cols; ++j) x[r * cols + j] /= std::sqrt(n);
    }
    return x;
  };
  auto normal = [&](Index n) { std::vector<double> x(n); for (auto& e : x) e = rng.normal(); return x; };
  c.q = normal_rows(c.T, c.K);
  c.k = normal_rows(P, c.K);
  c.v = normal(P * c.V);
  c.beta.resize(P); for (auto& b : c.beta) b = rng.uniform(0.1, 1.9);
  c.g.resize(c.T); for (auto& x : c.g) x = -std::log1p(std::exp(-rng.normal()));  // log-sigmoid < 0
  c.h0 = normal(c.K * c.V);
  c.d_o = normal(c.T * c.V);
  c.dht = normal(c.K * c.V);
  return c;
}

DeltaRuleInputs tiny_inputs(const TinyCase& c, Index chunk) {
  DeltaRuleInputs in;
  in.T = c.T; in.K = c.K; in.V = c.V; in.n_h = c.n_h; in.chunk = chunk;
  in.q = c.q.data(); in.k = c.k.data(); in.v = c.v.data(); in.beta = c.beta.data(); in.g = c.g.data(); in.h0 = c.h0.data();
  return in;
}

double tiny_loss(const TinyCase& c) {
  DeltaRuleWorkspace ws;
  std::vector<double> o(c.T * c.V), ht(c.K * c.V);
  gated_delta_rule_recurrent_forward(tiny_inputs(c, 0), o.data(), ht.data(), ws);
  double loss = 0;
  for (size_t i = 0; i < o.size(); ++i) loss += o[i] * c.d_o[i];
  for (size_t i = 0; i < ht.size(); ++i) loss += ht[i] * c.dht[i];
  return loss;
}

struct TinyGrads {
  std::vector<double> dq, dk, dv, dbeta, dg, dh0;
};

TinyGrads tiny_grads(const TinyCase& c, Form form, Index chunk) {
  const Index P = c.T * c.n_h;
  TinyGrads g{std::vector<double>(c.T * c.K), std::vector<double>(P * c.K), std::vector<double>(P * c.V),
              std::vector<double>(P), std::vector<double>(c.T), std::vector<double>(c.K * c.V)};
  DeltaRuleWorkspace ws;
  std::vector<double> o(c.T * c.V), ht(c.K * c.V);
  const DeltaRuleInputs in = tiny_inputs(c, chunk);
  const DeltaRuleGrads gr{g.dq.data(), g.dk.data(), g.dv.data(), g.dbeta.data(), g.dg.data(), g.dh0.data()};
  if (form == Form::recurrent) {
    gated_delta_rule_recurrent_forward(in, o.data(), ht.data(), ws);
    gated_delta_rule_recurrent_backward(in, c.d_o.data(), c.dht.data(), gr, ws);
  } else {
    gated_delta_rule_chunk_forward(in, o.data(), ht.data(), ws);
    gated_delta_rule_chunk_backward(in, c.d_o.data(), c.dht.data(), gr, ws);
  }
  return g;
}

TEST(KernelFiniteDifferences, RecurrentBackwardMatchesCentralDifferences) {
  TinyCase c = make_tiny_case();
  const TinyGrads an = tiny_grads(c, Form::recurrent, 0);
  const double eps = 1e-6;
  // central differences are accurate to ~eps^2 * |f'''| + 1e-16 / eps, i.e. well below 1e-8 here
  const double tol = 1e-8;
  auto check = [&](std::vector<double>& x, const std::vector<double>& grad, const char* name) {
    for (size_t i = 0; i < x.size(); ++i) {
      const double saved = x[i];
      x[i] = saved + eps;
      const double up = tiny_loss(c);
      x[i] = saved - eps;
      const double down = tiny_loss(c);
      x[i] = saved;
      const double fd = (up - down) / (2 * eps);
      EXPECT_NEAR(grad[i], fd, tol * std::max(1.0, std::abs(fd))) << name << "[" << i << "]";
    }
  };
  check(c.q, an.dq, "q");
  check(c.k, an.dk, "k");
  check(c.v, an.dv, "v");
  check(c.beta, an.dbeta, "beta");
  check(c.g, an.dg, "g");
  check(c.h0, an.dh0, "h0");
}

// Chunks of 1, 2, 3, 5 positions start and end inside tokens (n_h = 2); the chunk form must still
// equal the recurrence to rounding.
TEST(KernelFiniteDifferences, ChunkMatchesRecurrentForChunksSplittingTokens) {
  const TinyCase c = make_tiny_case();
  const TinyGrads ref = tiny_grads(c, Form::recurrent, 0);
  for (Index chunk : {1, 2, 3, 5, 16}) {
    const TinyGrads got = tiny_grads(c, Form::chunk, chunk);
    EXPECT_LE(relative_rms(got.dq, ref.dq), 1e-12) << "chunk " << chunk;
    EXPECT_LE(relative_rms(got.dk, ref.dk), 1e-12) << "chunk " << chunk;
    EXPECT_LE(relative_rms(got.dv, ref.dv), 1e-12) << "chunk " << chunk;
    EXPECT_LE(relative_rms(got.dbeta, ref.dbeta), 1e-12) << "chunk " << chunk;
    EXPECT_LE(relative_rms(got.dg, ref.dg), 1e-12) << "chunk " << chunk;
    EXPECT_LE(relative_rms(got.dh0, ref.dh0), 1e-12) << "chunk " << chunk;
  }
}

}  // namespace
}  // namespace db
