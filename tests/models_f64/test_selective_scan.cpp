// test_selective_scan.cpp: what the eigenvalue range of Mamba's selective scan means (double).
//
// 1. eigen_range [-1, 1] (Grazzi et al. 2025): with the step size driven to its extreme (dt large,
//    exp(dt A) ~ 0) the transition is ~ -1, so with no input written the state flips sign every
//    step, h_t ~ -h_{t-1}; in [0, 1] the same step sizes erase the state and no transition is ever
//    negative, whatever dt.
// 2. The chunked scan divides by no transition: with transitions exactly 0 ([0, 1]) or exactly -1
//    ([-1, 1]) in the middle of chunks it still equals the token-by-token scan in outputs, final
//    state and every gradient, and a zero transition leaves exactly the step's own input in the state.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/rng.h"
#include "models/kernels/selective_scan.h"

namespace db {
namespace {

struct Problem {
  int T = 0, Di = 0, N = 0;
  RealVector dt, u, B, C, A, h0;  // [T,Di], [T,Di], [T,N], [T,N], [Di,N], [Di,N]
  SelectiveScanInputs inputs(bool negative, int chunk) const {
    SelectiveScanInputs in;
    in.T = T, in.Di = Di, in.N = N, in.chunk = chunk, in.negative_eigen = negative;
    in.dt = dt.data(), in.u = u.data(), in.B = B.data(), in.C = C.data(), in.A = A.data(), in.h0 = h0.data();
    return in;
  }
};

RealVector random_vector(size_t n, Rng& rng, double std = 1.0) {
  RealVector v(n);
  for (auto& x : v) x = rng.normal() * std;
  return v;
}

// S4D-real A = -(1..N) per channel, random B, C, h0; dt and u set by the caller
Problem make_problem(int T, int Di, int N, Rng& rng) {
  Problem p;
  p.T = T, p.Di = Di, p.N = N;
  p.dt.assign(size_t(T) * Di, 0.1);
  p.u = random_vector(size_t(T) * Di, rng);
  p.B = random_vector(size_t(T) * N, rng);
  p.C = random_vector(size_t(T) * N, rng);
  p.A.resize(size_t(Di) * N);
  for (int c = 0; c < Di; ++c)
    for (int n = 0; n < N; ++n) p.A[size_t(c) * N + n] = -(n + 1.0);
  p.h0 = random_vector(size_t(Di) * N, rng);
  return p;
}

TEST(SelectiveScan, NegativeRangeFlipsTheStateEachStepWhenDtIsLarge) {
  Rng rng(1);
  Problem p = make_problem(9, 3, 4, rng);
  p.dt.assign(p.dt.size(), 40.0);  // exp(dt A) <= e^-40
  p.u.assign(p.u.size(), 0.0);      // nothing written: the state only evolves
  for (int t = 1; t < p.T; ++t) std::copy_n(p.C.data(), p.N, p.C.data() + t * p.N);  // one read-out
  const size_t S = size_t(p.Di) * p.N;
  // the read-out of h0 with that C, per channel: y_t should be (-1)^(t+1) of it
  std::vector<double> y0(p.Di, 0.0);
  for (int c = 0; c < p.Di; ++c)
    for (int n = 0; n < p.N; ++n) y0[c] += p.h0[c * p.N + n] * p.C[n];
  for (bool chunked : {false, true}) {
    SCOPED_TRACE(chunked ? "chunk" : "recurrent");
    const SelectiveScanInputs in = p.inputs(/*negative=*/true, /*chunk=*/4);
    SelectiveScanWorkspace ws;
    RealVector y(size_t(p.T) * p.Di), ht(S);
    if (chunked)
      selective_scan_chunk_forward(in, y.data(), ht.data(), ws);
    else
      selective_scan_recurrent_forward(in, y.data(), ht.data(), ws);
    for (int t = 0; t < p.T; ++t)
      for (int c = 0; c < p.Di; ++c) {
        const double prev = t == 0 ? y0[c] : y[(t - 1) * p.Di + c], cur = y[t * p.Di + c];
        EXPECT_LT(cur * prev, 0) << "t=" << t << " c=" << c;                     // opposite signs
        EXPECT_NEAR(cur, -prev, 1e-12 * std::abs(y0[c])) << "t=" << t << " c=" << c;  // y_t ~ -y_{t-1}
      }
    if (!chunked)  // the reference keeps every state: h_t ~ -h_{t-1} entry by entry
      for (int t = 0; t < p.T; ++t) {
        const real* prev = t == 0 ? p.h0.data() : ws.h.data() + (t - 1) * S;
        const real* cur = ws.h.data() + t * S;
        for (size_t i = 0; i < S; ++i) {
          EXPECT_LT(cur[i] * prev[i], 0) << "t=" << t << " i=" << i;
          EXPECT_NEAR(cur[i], -prev[i], 1e-12 * std::abs(prev[i])) << "t=" << t;
        }
      }
    // after an odd number of steps the state is -h0
    for (size_t i = 0; i < S; ++i) EXPECT_NEAR(ht[i], -p.h0[i], 1e-12 * std::abs(p.h0[i]));
  }

  // the same step sizes in [0, 1] erase the state instead
  const SelectiveScanInputs in = p.inputs(/*negative=*/false, 4);
  SelectiveScanWorkspace ws;
  RealVector y(size_t(p.T) * p.Di), ht(S);
  selective_scan_recurrent_forward(in, y.data(), ht.data(), ws);
  for (size_t i = 0; i < S; ++i) EXPECT_LT(std::abs(ht[i]), 1e-12 * std::abs(p.h0[i]));
}

TEST(SelectiveScan, TransitionRangesMatchTheirNames) {
  Rng rng(2);
  const int Di = 5, N = 6;
  RealVector A(size_t(Di) * N), a(A.size()), dt(Di);
  for (auto& x : A) x = -std::exp(rng.uniform(-3.0, 3.0));
  bool saw_negative = false;
  for (double log_dt = -8; log_dt <= 8; log_dt += 0.5) {
    for (auto& x : dt) x = std::exp(log_dt + rng.uniform(-0.5, 0.5));
    selective_scan_transition(dt.data(), A.data(), Di, N, /*negative_eigen=*/false, a.data());
    for (real v : a) {
      EXPECT_GE(v, 0.0);
      EXPECT_LE(v, 1.0);
    }
    selective_scan_transition(dt.data(), A.data(), Di, N, /*negative_eigen=*/true, a.data());
    for (real v : a) {
      EXPECT_GE(v, -1.0);
      EXPECT_LE(v, 1.0);
      saw_negative |= v < -0.5;
    }
  }
  EXPECT_TRUE(saw_negative);
}

// chunked == recurrent when some transitions are exactly 0 or -1 (exp underflows to 0)
TEST(SelectiveScan, ChunkedScanIsExactWithZeroAndNegativeTransitions) {
  for (bool negative : {false, true}) {
    SCOPED_TRACE(negative ? "[-1, 1]" : "[0, 1]");
    Rng rng(3);
    Problem p = make_problem(23, 3, 4, rng);
    for (auto& x : p.dt) x = std::exp(rng.uniform(-3.0, 1.0));
    for (int t : {2, 5, 6, 13, 20})
      for (int c = 0; c < p.Di; ++c) {
        p.dt[size_t(t) * p.Di + c] = 1e4;   // exp(dt A) == 0 exactly
        p.u[size_t(t) * p.Di + c] *= 1e-4;  // keeps the written dt u of order 1
      }
    const size_t S = size_t(p.Di) * p.N, TD = size_t(p.T) * p.Di, TN = size_t(p.T) * p.N;
    const RealVector dy = random_vector(TD, rng), dht = random_vector(S, rng);
    struct Out {
      RealVector y, ht, ddt, du, dB, dC, dA, dh0;
      SelectiveScanWorkspace ws;
    };
    auto run = [&](bool chunked) {
      Out o{RealVector(TD), RealVector(S), RealVector(TD), RealVector(TD), RealVector(TN), RealVector(TN),
            RealVector(S), RealVector(S), {}};
      const SelectiveScanInputs in = p.inputs(negative, 4);
      SelectiveScanGrads g{o.ddt.data(), o.du.data(), o.dB.data(), o.dC.data(), o.dA.data(), o.dh0.data()};
      if (chunked) {
        selective_scan_chunk_forward(in, o.y.data(), o.ht.data(), o.ws);
        selective_scan_chunk_backward(in, dy.data(), dht.data(), g, o.ws);
      } else {
        selective_scan_recurrent_forward(in, o.y.data(), o.ht.data(), o.ws);
        selective_scan_recurrent_backward(in, dy.data(), dht.data(), g, o.ws);
      }
      return o;
    };
    const Out r = run(false), c = run(true);
    auto expect_close = [](const RealVector& a, const RealVector& b, const char* what) {
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_TRUE(std::isfinite(b[i])) << what << "[" << i << "]";
        EXPECT_NEAR(a[i], b[i], 1e-12 * (1 + std::abs(a[i]))) << what << "[" << i << "]";
      }
    };
    expect_close(r.y, c.y, "y");
    expect_close(r.ht, c.ht, "ht");
    expect_close(r.ddt, c.ddt, "ddt");
    expect_close(r.du, c.du, "du");
    expect_close(r.dB, c.dB, "dB");
    expect_close(r.dC, c.dC, "dC");
    expect_close(r.dA, c.dA, "dA");
    expect_close(r.dh0, c.dh0, "dh0");
    // a zero transition forgets everything: the state after step 13 is its own input term (the
    // reference keeps every state; the chunked outputs equal its outputs above)
    if (!negative) {
      const int t = 13;
      for (int ch = 0; ch < p.Di; ++ch)
        for (int n = 0; n < p.N; ++n) {
          const double x = p.dt[size_t(t) * p.Di + ch] * p.u[size_t(t) * p.Di + ch] * p.B[size_t(t) * p.N + n];
          EXPECT_EQ(r.ws.h[t * S + size_t(ch) * p.N + n], x);
        }
    }
  }
}

}  // namespace
}  // namespace db
