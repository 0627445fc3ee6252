// test_rwkv4_wkv_float.cpp: the stabilised WKV in float stays accurate where e^k overflows float.
//
// With keys up to 300 (e^88 is already beyond float) the float kernel must still agree with the WKV
// formula evaluated term by term in double (finite there), to float accuracy.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/rng.h"
#include "models/kernels/rwkv4_wkv.h"

namespace db {
namespace {

TEST(Rwkv4WkvFloat, LargeKeysMatchTheDoubleFormula) {
  static_assert(sizeof(real) == sizeof(float), "this test is meant for the float build");
  Rng rng(5);
  const int T = 30;
  const double w = 0.4, u = -0.7;
  std::vector<real> k(T), v(T), y(T), states(2 * (T + 1));
  for (int t = 0; t < T; ++t) {
    k[t] = static_cast<real>(t % 4 == 1 ? 300.0 : 60.0 + 5.0 * rng.normal());
    v[t] = static_cast<real>(rng.normal());
  }
  rwkv4_wkv_forward(T, 1, real(w), real(u), k.data(), v.data(), nullptr, y.data(), states.data());
  for (int t = 0; t < T; ++t) {
    double num = std::exp(u + double(k[t])) * double(v[t]), den = std::exp(u + double(k[t]));
    for (int i = 0; i < t; ++i) {
      const double e = std::exp(-(t - 1 - i) * w + double(k[i]));
      num += e * double(v[i]);
      den += e;
    }
    ASSERT_TRUE(std::isfinite(num / den));
    EXPECT_TRUE(std::isfinite(y[t])) << "t=" << t;
    EXPECT_NEAR(double(y[t]), num / den, 1e-4 * (1 + std::abs(num / den))) << "t=" << t;
  }
}

}  // namespace
}  // namespace db
