// test_xlstm_stabiliser.cpp: the xLSTM cells' stabiliser m changes nothing but the range.
//
// mLSTM and sLSTM keep their states scaled by exp(-m_t) so that exp() of the input gate never
// overflows. The outputs of one head (mlstm_head_forward, slstm_head_forward: the mixers' own
// forward) must equal the paper's unstabilised formulas evaluated naively in long double, with an
// exponential input gate exp(i~) and a sigmoid forget gate, on a short sequence:
//   - with moderate pre-activations, from a zero state and from a carried state (whose true value
//     is the stabilised one times exp(m_0));
//   - with input-gate pre-activations near 750, where the naive formulas overflow in double
//     (checked) and the stabilised ones, in double, still match long double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/rng.h"
#include "models/mixers/mlstm.h"
#include "models/mixers/slstm.h"

namespace db {
namespace {

using LD = long double;

std::vector<real> normal(size_t n, double mean, double std, Rng& rng) {
  std::vector<real> v(n);
  for (auto& x : v) x = static_cast<real>(mean + std * rng.normal());
  return v;
}

// max |a - b| / max |b|
double relative_error(const std::vector<real>& a, const std::vector<LD>& b) {
  LD diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(LD(a[i]) - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return double(diff / scale);
}

// ---- mLSTM ----

struct MLSTMCase {
  int T = 6, K = 3;
  std::vector<real> q, k, v, ig, fg;  // [T, K] x3, [T] x2
  std::vector<real> C0, n0;           // stabilised initial state [K, K], [K]
  real m0 = 0;
};

MLSTMCase mlstm_case(double ig_mean, double ig_std, bool carried, uint64_t seed) {
  Rng rng(seed);
  MLSTMCase c;
  const size_t TK = size_t(c.T) * c.K;
  c.q = normal(TK, 0, 1, rng), c.k = normal(TK, 0, 1, rng), c.v = normal(TK, 0, 1, rng);
  c.ig = normal(c.T, ig_mean, ig_std, rng), c.fg = normal(c.T, 1.0, 1.5, rng);
  c.C0.assign(size_t(c.K) * c.K, 0), c.n0.assign(c.K, 0);
  if (carried) {
    c.C0 = normal(size_t(c.K) * c.K, 0, 0.5, rng), c.n0 = normal(c.K, 0.5, 0.3, rng);
    c.m0 = static_cast<real>(0.7);
  }
  return c;
}

// the stabilised head, as the mixer runs it
std::vector<real> mlstm_stabilised(const MLSTMCase& c) {
  const int T = c.T, K = c.K;
  std::vector<real> C(size_t(T + 1) * K * K), n(size_t(T + 1) * K), m(T + 1), out(size_t(T) * K);
  std::copy(c.C0.begin(), c.C0.end(), C.begin());
  std::copy(c.n0.begin(), c.n0.end(), n.begin());
  m[0] = c.m0;
  MLSTMHeadInputs in;
  in.T = T, in.K = K, in.q = c.q.data(), in.k = c.k.data(), in.v = c.v.data(), in.stride = K;
  in.ig = c.ig.data(), in.fg = c.fg.data(), in.gate_stride = 1;
  mlstm_head_forward(in, C.data(), n.data(), m.data(), out.data(), K);
  return out;
}

// the paper's unstabilised mLSTM in type F: C = f C + exp(i~) k v^T / sqrt(K), n = f n + exp(i~) k / sqrt(K),
// h = C^T q / max(|n.q|, 1), from the true initial state exp(m_0) (C_0, n_0)
template <class F>
std::vector<F> mlstm_naive(const MLSTMCase& c) {
  const int T = c.T, K = c.K;
  const F s = 1 / std::sqrt(F(K));
  std::vector<F> C(size_t(K) * K), n(K), out(size_t(T) * K);
  const F e0 = std::exp(F(c.m0));
  for (size_t i = 0; i < C.size(); ++i) C[i] = F(c.C0[i]) * e0;
  for (int i = 0; i < K; ++i) n[i] = F(c.n0[i]) * e0;
  for (int t = 0; t < T; ++t) {
    const F f = 1 / (1 + std::exp(-F(c.fg[t]))), ig = std::exp(F(c.ig[t]));
    F d = 0;
    for (int i = 0; i < K; ++i) {
      const F k = F(c.k[t * K + i]) * s;
      for (int j = 0; j < K; ++j) C[i * K + j] = f * C[i * K + j] + ig * k * F(c.v[t * K + j]);
      n[i] = f * n[i] + ig * k;
      d += n[i] * F(c.q[t * K + i]);
    }
    const F den = std::max(std::abs(d), F(1));
    for (int j = 0; j < K; ++j) {
      F num = 0;
      for (int i = 0; i < K; ++i) num += C[i * K + j] * F(c.q[t * K + i]);
      out[t * K + j] = num / den;
    }
  }
  return out;
}

TEST(MLSTMStabiliser, MatchesTheUnstabilisedCellFromAZeroState) {
  for (uint64_t seed : {1, 2, 3}) {
    const MLSTMCase c = mlstm_case(0.0, 2.0, false, seed);
    EXPECT_LT(relative_error(mlstm_stabilised(c), mlstm_naive<LD>(c)), 1e-12) << "seed " << seed;
  }
}

TEST(MLSTMStabiliser, MatchesTheUnstabilisedCellFromACarriedState) {
  for (uint64_t seed : {4, 5, 6}) {
    const MLSTMCase c = mlstm_case(0.0, 2.0, true, seed);
    EXPECT_LT(relative_error(mlstm_stabilised(c), mlstm_naive<LD>(c)), 1e-12) << "seed " << seed;
  }
}

TEST(MLSTMStabiliser, KeepsInputGatesThatOverflowTheNaiveFormulaInRange) {
  const MLSTMCase c = mlstm_case(750.0, 20.0, false, 7);
  const std::vector<double> naive_double = mlstm_naive<double>(c);
  EXPECT_TRUE(std::any_of(naive_double.begin(), naive_double.end(), [](double x) { return !std::isfinite(x); }))
      << "the case should overflow the unstabilised formula in double";
  const std::vector<real> out = mlstm_stabilised(c);
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](real x) { return std::isfinite(x); }));
  EXPECT_LT(relative_error(out, mlstm_naive<LD>(c)), 1e-12);
}

// ---- sLSTM ----

struct SLSTMCase {
  int T = 6, K = 3;
  std::vector<real> wx[4];    // [T, K] W u of gates i, f, z, o
  std::vector<real> R[4];     // [K, K]
  std::vector<real> bias[4];  // [K]
  std::vector<real> h0, c0, n0, m0;  // stabilised initial state [K] each
};

SLSTMCase slstm_case(double i_mean, double i_std, bool carried, uint64_t seed) {
  Rng rng(seed);
  SLSTMCase c;
  const size_t TK = size_t(c.T) * c.K;
  for (int g = 0; g < 4; ++g) {
    c.wx[g] = g == 0 ? normal(TK, i_mean, i_std, rng) : normal(TK, g == 1 ? 1.0 : 0.0, 1.5, rng);
    c.R[g] = normal(size_t(c.K) * c.K, 0, 0.5, rng);
    c.bias[g] = normal(c.K, 0, 0.3, rng);
  }
  c.h0.assign(c.K, 0), c.c0.assign(c.K, 0), c.n0.assign(c.K, 0), c.m0.assign(c.K, 0);
  if (carried) {
    c.h0 = normal(c.K, 0, 0.3, rng), c.c0 = normal(c.K, 0, 0.5, rng), c.n0 = normal(c.K, 1.0, 0.2, rng);
    c.m0 = normal(c.K, 0.5, 0.5, rng);
  }
  return c;
}

std::vector<real> slstm_stabilised(const SLSTMCase& c) {
  const int T = c.T, K = c.K;
  const size_t states = size_t(T + 1) * K;
  std::vector<real> h(states), cs(states), n(states), m(states), raw[4];
  std::copy(c.h0.begin(), c.h0.end(), h.begin());
  std::copy(c.c0.begin(), c.c0.end(), cs.begin());
  std::copy(c.n0.begin(), c.n0.end(), n.begin());
  std::copy(c.m0.begin(), c.m0.end(), m.begin());
  SLSTMHeadInputs in;
  in.T = T, in.K = K, in.stride = K;
  real* raw_ptr[4];
  for (int g = 0; g < 4; ++g) {
    raw[g].resize(size_t(T) * K);
    raw_ptr[g] = raw[g].data();
    in.wx[g] = c.wx[g].data(), in.R[g] = c.R[g].data(), in.bias[g] = c.bias[g].data();
  }
  slstm_head_forward(in, raw_ptr, h.data(), cs.data(), n.data(), m.data());
  return std::vector<real>(h.begin() + K, h.end());
}

// the paper's unstabilised sLSTM in type F: g~ = W u + R h + b, c = f c + exp(i~) tanh(z~),
// n = f n + exp(i~), h = sigmoid(o~) c / n, f = sigmoid(f~), from the true state (h_0, exp(m_0) c_0,
// exp(m_0) n_0)
template <class F>
std::vector<F> slstm_naive(const SLSTMCase& c) {
  const int T = c.T, K = c.K;
  std::vector<F> h(K), cs(K), n(K), out(size_t(T) * K), pre(4 * K);
  for (int j = 0; j < K; ++j) {
    h[j] = F(c.h0[j]);
    cs[j] = F(c.c0[j]) * std::exp(F(c.m0[j]));
    n[j] = F(c.n0[j]) * std::exp(F(c.m0[j]));
  }
  auto sig = [](F x) { return 1 / (1 + std::exp(-x)); };
  for (int t = 0; t < T; ++t) {
    for (int g = 0; g < 4; ++g)
      for (int j = 0; j < K; ++j) {
        F acc = F(c.wx[g][t * K + j]) + F(c.bias[g][j]);
        for (int l = 0; l < K; ++l) acc += F(c.R[g][j * K + l]) * h[l];
        pre[g * K + j] = acc;
      }
    for (int j = 0; j < K; ++j) {
      const F ig = std::exp(pre[j]), fg = sig(pre[K + j]), z = std::tanh(pre[2 * K + j]), og = sig(pre[3 * K + j]);
      cs[j] = fg * cs[j] + ig * z;
      n[j] = fg * n[j] + ig;
      h[j] = og * cs[j] / n[j];
      out[t * K + j] = h[j];
    }
  }
  return out;
}

TEST(SLSTMStabiliser, MatchesTheUnstabilisedCellFromAZeroState) {
  for (uint64_t seed : {11, 12, 13}) {
    const SLSTMCase c = slstm_case(0.0, 2.0, false, seed);
    EXPECT_LT(relative_error(slstm_stabilised(c), slstm_naive<LD>(c)), 1e-12) << "seed " << seed;
  }
}

TEST(SLSTMStabiliser, MatchesTheUnstabilisedCellFromACarriedState) {
  for (uint64_t seed : {14, 15, 16}) {
    const SLSTMCase c = slstm_case(0.0, 2.0, true, seed);
    EXPECT_LT(relative_error(slstm_stabilised(c), slstm_naive<LD>(c)), 1e-12) << "seed " << seed;
  }
}

TEST(SLSTMStabiliser, KeepsInputGatesThatOverflowTheNaiveFormulaInRange) {
  const SLSTMCase c = slstm_case(750.0, 20.0, false, 17);
  const std::vector<double> naive_double = slstm_naive<double>(c);
  EXPECT_TRUE(std::any_of(naive_double.begin(), naive_double.end(), [](double x) { return !std::isfinite(x); }))
      << "the case should overflow the unstabilised formula in double";
  const std::vector<real> out = slstm_stabilised(c);
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](real x) { return std::isfinite(x); }));
  EXPECT_LT(relative_error(out, slstm_naive<LD>(c)), 1e-12);
}

}  // namespace
}  // namespace db
