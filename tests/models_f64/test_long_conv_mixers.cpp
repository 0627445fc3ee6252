// test_long_conv_mixers.cpp: the long-convolution mixers (base_conv, hyena, h3, mh_hyena) beyond the registry
// tests, in double.
//
// 1. Their gradients match finite differences at a length that takes the FFT form of the long
//    convolution (the registry gradient check runs T = 7, the direct form).
// 2. They are causal at that length: changing the input at t0 leaves every earlier output alone.
// 3. base_conv, hyena and mh_hyena refuse sequences longer than l_max (their filter is defined on l_max steps).
// 4. h3's convolutional form equals the recurrence Zoology's H3.step runs: a shift register
//    s <- shift(s) + Bs k_t, k'_t = Cs.s + Dk k_t, and a diagonal SSM w <- dA w + dB (k'_t v_t),
//    o_t = 2 Re(C.w) + Dd k'_t v_t, y_t = output_linear(o_t q_t), with dA, dB the bilinear
//    discretisation of (A, B, dt).
#include <gtest/gtest.h>

#include <cmath>
#include <complex>

#include "common/rng.h"
#include "models/core/gradcheck.h"
#include "models/kernels/long_conv.h"
#include "models/mixers/base_conv.h"
#include "models/mixers/h3.h"
#include "models/mixers/hyena.h"
#include "models/mixers/mh_hyena.h"
#include "tests/common/param_lookup.h"

namespace db {
namespace {

using test::param;

constexpr int kLongT = 100;

// the long cases take the FFT form: kAuto switches at 64 while a test of this file runs
class LongConvMixers : public ::testing::Test {
 protected:
  void SetUp() override { set_long_conv_fft_min_length(64); }
  void TearDown() override { set_long_conv_fft_min_length(kLongConvFftMinLength); }
};

struct Variant {
  const MixerEntry* entry;
  OptionOverrides options;
};

std::vector<Variant> long_variants() {
  return {
      {&base_conv_mixer_entry, {{"l_max", int64_t{128}}}},
      {&base_conv_mixer_entry, {{"l_max", int64_t{128}}, {"implicit_long_conv", false}, {"use_act", true}}},
      {&hyena_mixer_entry, {{"l_max", int64_t{128}}, {"filter_order", int64_t{8}}}},
      {&h3_mixer_entry, {{"d_state", int64_t{6}}}},
      {&mh_hyena_mixer_entry, {{"l_max", int64_t{128}}, {"num_heads", int64_t{2}}, {"proj_groups", int64_t{2}}}},
  };
}

TEST_F(LongConvMixers, GradientsMatchFiniteDifferencesOnTheFftPath) {
  for (const auto& v : long_variants()) {
    GradCheckOptions opt;
    opt.B = 2, opt.T = kLongT, opt.d_model = 4;
    const GradCheckReport r = gradcheck_mixer_entry(*v.entry, v.options, opt);
    SCOPED_TRACE(r.subject);
    EXPECT_TRUE(r.violations.empty()) << r.to_string();
    for (const auto& t : r.tensors) {
      EXPECT_GT(t.checked, 0) << t.name;
      EXPECT_LT(t.error, 1e-6) << t.name << "\n" << r.to_string();
    }
  }
}

std::vector<real> run_forward(Mixer& m, const std::vector<real>& x, int B, int T) {
  std::vector<real> y(x.size());
  m.forward(x.data(), y.data(), B, T);
  return y;
}

TEST_F(LongConvMixers, AreCausal) {
  const int B = 2, T = kLongT + 11, D = 6, t0 = 57;
  for (const auto& v : long_variants()) {
    ParamArena arena;
    auto m = v.entry->create(D, Options::resolve(v.entry->options, v.options), arena);
    Rng rng(4);
    arena.initialize(rng);
    prepare_params_for_check(arena, rng);
    std::vector<real> x(size_t(B) * T * D);
    for (auto& e : x) e = static_cast<real>(rng.normal());
    const auto y0 = run_forward(*m, x, B, T);
    for (int b = 0; b < B; ++b)
      for (int c = 0; c < D; ++c) x[(size_t(b) * T + t0) * D + c] += 1.0;
    const auto y1 = run_forward(*m, x, B, T);
    double scale = 0, before = 0, after = 0;
    for (size_t i = 0; i < y0.size(); ++i) scale = std::max(scale, std::abs(double(y0[i])));
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < T; ++t)
        for (int c = 0; c < D; ++c) {
          const size_t i = (size_t(b) * T + t) * D + c;
          const double d = std::abs(double(y1[i]) - double(y0[i]));
          (t < t0 ? before : after) = std::max(t < t0 ? before : after, d);
        }
    SCOPED_TRACE(v.entry->name);
    EXPECT_LT(before, 1e-12 * std::max(scale, 1.0));
    EXPECT_GT(after, 1e-6 * scale);
  }
}

TEST_F(LongConvMixers, RefuseSequencesLongerThanLMax) {
  for (const MixerEntry* e : {&base_conv_mixer_entry, &hyena_mixer_entry, &mh_hyena_mixer_entry}) {
    ParamArena arena;
    OptionOverrides o{{"l_max", int64_t{8}}};
    if (e == &mh_hyena_mixer_entry) o["num_heads"] = int64_t{2};
    auto m = e->create(4, Options::resolve(e->options, o), arena);
    Rng rng(1);
    arena.initialize(rng);
    std::vector<real> x(9 * 4, 0.5), y(x.size());
    EXPECT_NO_THROW(m->forward(x.data(), y.data(), 1, 8)) << e->name;
    EXPECT_THROW(m->forward(x.data(), y.data(), 1, 9), std::invalid_argument) << e->name;
  }
}

TEST(H3, ConvolutionalFormEqualsTheRecurrence) {
  using cplx = std::complex<double>;
  const int D = 3, N = 6, M = N / 2, T = 2 * kLongT + 3;
  ParamArena arena;
  H3Mixer mixer(D, Options::resolve(h3_mixer_entry.options, {{"d_state", int64_t{N}}}), arena);
  Rng rng(9);
  arena.initialize(rng);
  prepare_params_for_check(arena, rng);  // Bs no longer e_0, every parameter generic
  std::vector<real> x(size_t(T) * D);
  for (auto& e : x) e = static_cast<real>(rng.normal());
  const auto y = run_forward(mixer, x, 1, T);

  auto linear = [&](const std::string& name, const real* in, int t) {
    const real *W = param(arena, name + ".weight"), *b = param(arena, name + ".bias");
    std::vector<double> out(D);
    for (int o = 0; o < D; ++o) {
      double s = b[o];
      for (int i = 0; i < D; ++i) s += double(W[o * D + i]) * in[size_t(t) * D + i];
      out[o] = s;
    }
    return out;
  };
  const real *Bs = param(arena, "ssm_k_kernel.kernel.B"), *Cs = param(arena, "ssm_k_kernel.kernel.C"),
             *Dk = param(arena, "ssm_k_D"), *C = param(arena, "kernel.kernel.C"),
             *log_dt = param(arena, "kernel.kernel.log_dt"), *Bd = param(arena, "kernel.kernel.B"),
             *iar = param(arena, "kernel.kernel.inv_A_real"), *aim = param(arena, "kernel.kernel.A_imag"),
             *Dd = param(arena, "D");
  std::vector<double> shift(size_t(D) * N, 0.0);
  std::vector<cplx> w(size_t(D) * M, 0.0);
  std::vector<real> g(size_t(T) * D);
  for (int t = 0; t < T; ++t) {
    const auto q = linear("q_proj", x.data(), t), k = linear("k_proj", x.data(), t), v = linear("v_proj", x.data(), t);
    for (int c = 0; c < D; ++c) {
      double* s = shift.data() + size_t(c) * N;
      for (int n = N - 1; n > 0; --n) s[n] = s[n - 1];
      s[0] = 0;
      double kp = Dk[c] * k[c];
      for (int n = 0; n < N; ++n) {
        s[n] += Bs[c * N + n] * k[c];
        kp += Cs[c * N + n] * s[n];
      }
      const double u = kp * v[c], dt = std::exp(double(log_dt[c]));
      double o = Dd[c] * u;
      for (int n = 0; n < M; ++n) {
        const int i = c * M + n;
        const cplx A(-std::exp(double(iar[i])), double(aim[i]));
        const cplx dA = (1.0 + A * dt / 2.0) / (1.0 - A * dt / 2.0);
        const cplx dB = cplx(Bd[2 * i], Bd[2 * i + 1]) * dt / (1.0 - A * dt / 2.0);
        w[i] = dA * w[i] + dB * u;
        o += 2.0 * (cplx(C[2 * i], C[2 * i + 1]) * w[i]).real();
      }
      g[size_t(t) * D + c] = static_cast<real>(o * q[c]);
    }
  }
  double err = 0, scale = 0;
  for (int t = 0; t < T; ++t) {
    const auto ref = linear("output_linear", g.data(), t);
    for (int c = 0; c < D; ++c) {
      err = std::max(err, std::abs(ref[c] - double(y[size_t(t) * D + c])));
      scale = std::max(scale, std::abs(ref[c]));
    }
  }
  EXPECT_GT(scale, 1e-3);
  EXPECT_LT(err, 1e-10 * scale);
}

}  // namespace
}  // namespace db
