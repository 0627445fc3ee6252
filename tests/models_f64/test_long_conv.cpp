// test_long_conv.cpp: the causal long convolution (models/kernels/long_conv.h), in double.
//
// The direct O(T^2) form and the FFT form must give the same outputs and both gradients at short,
// odd and long lengths (including lengths on either side of a power of two, where the FFT padding
// changes); the convolution must be causal; the backward must be the adjoint of the forward
// (<dy, y> = <dx, x> = <dh, h>, since y is linear in x and in h); and the bits must not depend on
// the OpenMP thread count.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "common/rng.h"
#include "models/kernels/long_conv.h"

namespace db {
namespace {

std::vector<real> random_vec(size_t n, Rng& rng) {
  std::vector<real> v(n);
  for (auto& e : v) e = static_cast<real>(rng.normal());
  return v;
}

double max_abs_diff(const std::vector<real>& a, const std::vector<real>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - double(b[i])));
  return m;
}

double dot(const std::vector<real>& a, const std::vector<real>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * double(b[i]);
  return s;
}

struct ConvRun {
  std::vector<real> y, dx, dh;
};

ConvRun run(const std::vector<real>& x, const std::vector<real>& h, const std::vector<real>& dy, int B, int T, int C,
        LongConvForm form) {
  ConvRun r{std::vector<real>(x.size()), std::vector<real>(x.size()), std::vector<real>(h.size())};
  long_conv_forward(x.data(), h.data(), r.y.data(), B, T, C, form);
  long_conv_backward(x.data(), h.data(), dy.data(), r.dx.data(), r.dh.data(), B, T, C, form);
  return r;
}

TEST(LongConv, FftAndDirectFormsAgree) {
  const int B = 2, C = 3;
  for (int T : {1, 2, 7, 31, 32, 33, 64, 97, 130}) {
    Rng rng(100 + T);
    const auto x = random_vec(size_t(B) * T * C, rng), h = random_vec(size_t(T) * C, rng),
               dy = random_vec(x.size(), rng);
    const ConvRun d = run(x, h, dy, B, T, C, LongConvForm::kDirect);
    const ConvRun f = run(x, h, dy, B, T, C, LongConvForm::kFft);
    const double tol = 1e-11 * std::max(1, T);
    EXPECT_LT(max_abs_diff(d.y, f.y), tol) << "T=" << T;
    EXPECT_LT(max_abs_diff(d.dx, f.dx), tol) << "T=" << T;
    EXPECT_LT(max_abs_diff(d.dh, f.dh), tol) << "T=" << T;
  }
}

TEST(LongConv, DirectFormIsTheDefinition) {
  const int B = 2, T = 9, C = 2;
  Rng rng(5);
  const auto x = random_vec(size_t(B) * T * C, rng), h = random_vec(size_t(T) * C, rng);
  std::vector<real> y(x.size());
  long_conv_forward(x.data(), h.data(), y.data(), B, T, C, LongConvForm::kDirect);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int c = 0; c < C; ++c) {
        double s = 0;
        for (int u = 0; u <= t; ++u) s += h[size_t(t - u) * C + c] * x[(size_t(b) * T + u) * C + c];
        EXPECT_NEAR(y[(size_t(b) * T + t) * C + c], s, 1e-12);
      }
}

TEST(LongConv, BackwardIsTheAdjoint) {
  const int B = 3, C = 4;
  for (int T : {5, 200}) {
    for (LongConvForm form : {LongConvForm::kDirect, LongConvForm::kFft}) {
      Rng rng(7 + T);
      const auto x = random_vec(size_t(B) * T * C, rng), h = random_vec(size_t(T) * C, rng),
                 dy = random_vec(x.size(), rng);
      const ConvRun r = run(x, h, dy, B, T, C, form);
      const double ref = dot(dy, r.y);
      EXPECT_NEAR(dot(r.dx, x), ref, 1e-10 * std::abs(ref) + 1e-10) << "T=" << T;
      EXPECT_NEAR(dot(r.dh, h), ref, 1e-10 * std::abs(ref) + 1e-10) << "T=" << T;
    }
  }
}

TEST(LongConv, IsCausal) {
  const int B = 2, C = 3;
  for (int T : {12, 150}) {
    for (LongConvForm form : {LongConvForm::kDirect, LongConvForm::kFft}) {
      Rng rng(11);
      auto x = random_vec(size_t(B) * T * C, rng);
      const auto h = random_vec(size_t(T) * C, rng);
      std::vector<real> y0(x.size()), y1(x.size());
      long_conv_forward(x.data(), h.data(), y0.data(), B, T, C, form);
      const int t0 = T / 2;
      for (int b = 0; b < B; ++b)
        for (int c = 0; c < C; ++c) x[(size_t(b) * T + t0) * C + c] += 3.0;
      long_conv_forward(x.data(), h.data(), y1.data(), B, T, C, form);
      // the FFT form spreads rounding over all times, so "unchanged" means to rounding there
      const double tol = form == LongConvForm::kDirect ? 0.0 : 1e-12;
      double after = 0;
      for (int b = 0; b < B; ++b)
        for (int t = 0; t < T; ++t)
          for (int c = 0; c < C; ++c) {
            const size_t i = (size_t(b) * T + t) * C + c;
            const double d = std::abs(double(y1[i]) - double(y0[i]));
            if (t < t0) {
              EXPECT_LE(d, tol) << "T=" << T << " t=" << t;
            } else {
              after = std::max(after, d);
            }
          }
      EXPECT_GT(after, 1e-3) << "a perturbation at t0 should reach later outputs";
    }
  }
}

TEST(LongConv, BitsDoNotDependOnThreadCount) {
  const int B = 2, C = 5;
  for (int T : {20, 150})
    for (LongConvForm form : {LongConvForm::kDirect, LongConvForm::kFft}) {
      Rng rng(3);
      const auto x = random_vec(size_t(B) * T * C, rng), h = random_vec(size_t(T) * C, rng),
                 dy = random_vec(x.size(), rng);
      const int saved = omp_get_max_threads();
      omp_set_num_threads(1);
      const ConvRun one = run(x, h, dy, B, T, C, form);
      omp_set_num_threads(2);
      const ConvRun two = run(x, h, dy, B, T, C, form);
      omp_set_num_threads(saved);
      EXPECT_EQ(one.y, two.y) << "T " << T;
      EXPECT_EQ(one.dx, two.dx) << "T " << T;
      EXPECT_EQ(one.dh, two.dh) << "T " << T;
    }
}

}  // namespace
}  // namespace db
