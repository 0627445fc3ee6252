// test_rwkv4_wkv.cpp: RWKV-4's stabilised WKV recurrence is the WKV formula (double).
//
// For one channel the output of the running-maximum form must equal
//   wkv_t = (sum_{i<t} e^{-(t-1-i) w + k_i} v_i + e^{u+k_t} v_t) / (sum_{i<t} e^{-(t-1-i) w + k_i} + e^{u+k_t})
// evaluated term by term, also with keys of 50 to 300, where e^k is far beyond float range (the naive
// double form is still finite there, so it can serve as the reference), and its backward must match
// central differences there too.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/rng.h"
#include "models/kernels/rwkv4_wkv.h"

namespace db {
namespace {

std::vector<double> naive_wkv(double w, double u, const std::vector<double>& k, const std::vector<double>& v) {
  const int T = static_cast<int>(k.size());
  std::vector<double> y(T);
  for (int t = 0; t < T; ++t) {
    double num = std::exp(u + k[t]) * v[t], den = std::exp(u + k[t]);
    for (int i = 0; i < t; ++i) {
      const double e = std::exp(-(t - 1 - i) * w + k[i]);
      num += e * v[i];
      den += e;
    }
    EXPECT_TRUE(std::isfinite(num) && std::isfinite(den)) << "naive form overflowed at t=" << t;
    y[t] = num / den;
  }
  return y;
}

std::vector<double> stable_wkv(double w, double u, const std::vector<double>& k, const std::vector<double>& v) {
  const int T = static_cast<int>(k.size());
  std::vector<double> y(T), states(2 * (T + 1));
  rwkv4_wkv_forward(T, 1, w, u, k.data(), v.data(), nullptr, y.data(), states.data());
  return y;
}

struct Keys {
  const char* name;
  double scale, offset;  // k = offset + scale * N(0, 1), then every 5th key set to `spike`
  double spike;
};

TEST(Rwkv4Wkv, StableFormEqualsTheFormulaForOneChannel) {
  const Keys cases[] = {{"moderate", 2.0, 0.0, 0.0}, {"large", 1.0, 50.0, 50.0}, {"spikes", 3.0, 0.0, 300.0},
                        {"mixed signs", 1.0, -50.0, 60.0}};
  for (const Keys& keys : cases)
    for (double w : {0.01, 0.7, 8.0})
      for (double u : {std::log(0.3) - 0.5, 2.0}) {
        SCOPED_TRACE(std::string(keys.name) + " w=" + std::to_string(w) + " u=" + std::to_string(u));
        Rng rng(7);
        const int T = 41;
        std::vector<double> k(T), v(T);
        for (int t = 0; t < T; ++t) {
          k[t] = keys.offset + keys.scale * rng.normal();
          if (keys.spike != 0 && t % 5 == 2) k[t] = keys.spike;
          v[t] = rng.normal();
        }
        const auto ref = naive_wkv(w, u, k, v), got = stable_wkv(w, u, k, v);
        for (int t = 0; t < T; ++t) EXPECT_NEAR(got[t], ref[t], 1e-12 * (1 + std::abs(ref[t]))) << "t=" << t;
      }
}

// L = sum_t y_t dy_t + <final state, dsT>; the backward against central differences at large keys
TEST(Rwkv4Wkv, BackwardMatchesFiniteDifferencesAtLargeKeys) {
  Rng rng(11);
  const int T = 12;
  std::vector<double> k(T), v(T), dy(T), s0 = {0.4, 45.0}, dsT = {0.3, -0.7};
  for (int t = 0; t < T; ++t) k[t] = 50.0 + 2.0 * rng.normal(), v[t] = rng.normal(), dy[t] = rng.normal();
  double w = 0.9, u = 0.2;
  auto loss = [&]() {
    std::vector<double> y(T), states(2 * (T + 1));
    rwkv4_wkv_forward(T, 1, w, u, k.data(), v.data(), s0.data(), y.data(), states.data());
    double L = 0;
    for (int t = 0; t < T; ++t) L += y[t] * dy[t];
    for (int j = 0; j < 2; ++j) L += states[2 * T + j] * dsT[j];
    return L;
  };
  std::vector<double> y(T), states(2 * (T + 1)), dk(T), dv(T), ds0(2);
  double dw = 0, du = 0;
  rwkv4_wkv_forward(T, 1, w, u, k.data(), v.data(), s0.data(), y.data(), states.data());
  rwkv4_wkv_backward(T, 1, w, u, k.data(), v.data(), states.data(), dy.data(), dsT.data(), dk.data(), dv.data(), &dw,
                     &du, ds0.data());
  const double h = 1e-6;
  auto numeric = [&](double& x) {
    const double x0 = x;
    x = x0 + h;
    const double lp = loss();
    x = x0 - h;
    const double lm = loss();
    x = x0;
    return (lp - lm) / (2 * h);
  };
  for (int t = 0; t < T; ++t) {
    EXPECT_NEAR(dk[t], numeric(k[t]), 1e-6 * (1 + std::abs(dk[t]))) << "dk t=" << t;
    EXPECT_NEAR(dv[t], numeric(v[t]), 1e-6 * (1 + std::abs(dv[t]))) << "dv t=" << t;
  }
  EXPECT_NEAR(dw, numeric(w), 1e-6 * (1 + std::abs(dw)));
  EXPECT_NEAR(du, numeric(u), 1e-6 * (1 + std::abs(du)));
  for (int j = 0; j < 2; ++j) EXPECT_NEAR(ds0[j], numeric(s0[j]), 1e-6 * (1 + std::abs(ds0[j]))) << "ds0 " << j;
}

}  // namespace
}  // namespace db
