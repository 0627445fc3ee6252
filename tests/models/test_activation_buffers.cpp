// test_activation_buffers.cpp: the vectorised buffer activations against the scalar reference.
//
// activation_buffers.* replaces a libm exp per element in the MLP, short conv and output gate; these
// tests hold it to the scalar sigmoid / silu / silu' of activations.h (float build, a few ulp),
// across partial chunks, saturated inputs, aliasing, and that splitting a buffer at a multiple of
// the chunk (as parallel_blocks does) gives the same bits as one call.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common/rng.h"
#include "models/numerics/activation_buffers.h"
#include "models/numerics/activations.h"

namespace db {
namespace {

// n inputs: saturating and special values first, then normals of std 6 (the range pre-activations
// reach), so every length sees both
RealVector test_inputs(Index n, uint64_t seed) {
  const real inf = std::numeric_limits<real>::infinity();
  const std::vector<real> special = {0.0f, -0.0f, 1e-30f, -1e-30f, 20.0f, -20.0f, 88.0f, -88.0f,
                                     100.0f, -100.0f, 1e30f, -1e30f, inf, -inf};
  Rng rng(seed);
  RealVector x(static_cast<size_t>(n));
  for (Index i = 0; i < n; ++i)
    x[i] = i < Index(special.size()) ? special[i] : static_cast<real>(6.0 * rng.normal());
  return x;
}

void expect_close(real got, real want, double rel, double abs, Index i, real x) {
  ASSERT_FALSE(std::isnan(got)) << "i=" << i << " x=" << x;
  EXPECT_LE(std::abs(double(got) - double(want)), abs + rel * std::abs(double(want))) << "i=" << i << " x=" << x;
}

const Index kLengths[] = {0, 1, 15, 16, 255, 256, 257, 1000, 4096 + 13};

TEST(ActivationBuffers, SigmoidMatchesTheScalarForm) {
  for (const Index n : kLengths) {
    const RealVector x = test_inputs(n, 1);
    RealVector s(static_cast<size_t>(n), real(-1));
    sigmoid_buffer(x.data(), s.data(), n);
    for (Index i = 0; i < n; ++i) {
      expect_close(s[i], sigmoid(x[i]), 1e-6, 1e-30, i, x[i]);
      EXPECT_GE(s[i], real(0));
      EXPECT_LE(s[i], real(1));
    }
  }
}

TEST(ActivationBuffers, SiluAndItsGradientMatchTheScalarForms) {
  for (const Index n : kLengths) {
    const RealVector x = test_inputs(n, 2);
    const RealVector dy = test_inputs(n, 3);
    RealVector y(static_cast<size_t>(n)), dx(static_cast<size_t>(n));
    silu_buffer(x.data(), y.data(), n);
    silu_backward_buffer(x.data(), dy.data(), dx.data(), n);
    for (Index i = 0; i < n; ++i) {
      if (std::isinf(x[i])) continue;  // x * sigmoid(x) is inf * 0 at -inf in both forms
      expect_close(y[i], silu(x[i]), 1e-6, 1e-30, i, x[i]);
      if (std::isinf(dy[i]) || std::abs(dy[i]) > 1e20f) continue;
      expect_close(dx[i], dy[i] * silu_grad(x[i]), 1e-5, 1e-6 * std::abs(double(dy[i])), i, x[i]);
    }
  }
}

TEST(ActivationBuffers, InPlaceEqualsOutOfPlace) {
  const Index n = 1000;
  const RealVector x = test_inputs(n, 4), dy = test_inputs(n, 5);
  RealVector s(x.size()), y(x.size()), dx(x.size());
  sigmoid_buffer(x.data(), s.data(), n);
  silu_buffer(x.data(), y.data(), n);
  silu_backward_buffer(x.data(), dy.data(), dx.data(), n);

  RealVector s_in = x, y_in = x, dx_in = dy;
  sigmoid_buffer(s_in.data(), s_in.data(), n);
  silu_buffer(y_in.data(), y_in.data(), n);
  silu_backward_buffer(x.data(), dx_in.data(), dx_in.data(), n);
  EXPECT_EQ(0, std::memcmp(s.data(), s_in.data(), n * sizeof(real)));
  EXPECT_EQ(0, std::memcmp(y.data(), y_in.data(), n * sizeof(real)));
  EXPECT_EQ(0, std::memcmp(dx.data(), dx_in.data(), n * sizeof(real)));
}

TEST(ActivationBuffers, SplittingAtAMultipleOf4096GivesTheSameBits) {
  // parallel_blocks hands the layers blocks of 4096 elements; a block's results must not depend on
  // whether it was computed alone or as part of the whole buffer
  const Index n = 3 * 4096 + 77, cut = 4096;
  const RealVector x = test_inputs(n, 6), dy = test_inputs(n, 7);
  RealVector whole(x.size()), parts(x.size()), dwhole(x.size()), dparts(x.size());
  silu_buffer(x.data(), whole.data(), n);
  silu_buffer(x.data(), parts.data(), cut);
  silu_buffer(x.data() + cut, parts.data() + cut, n - cut);
  silu_backward_buffer(x.data(), dy.data(), dwhole.data(), n);
  silu_backward_buffer(x.data(), dy.data(), dparts.data(), cut);
  silu_backward_buffer(x.data() + cut, dy.data() + cut, dparts.data() + cut, n - cut);
  EXPECT_EQ(0, std::memcmp(whole.data(), parts.data(), n * sizeof(real)));
  EXPECT_EQ(0, std::memcmp(dwhole.data(), dparts.data(), n * sizeof(real)));
}

}  // namespace
}  // namespace db
