// test_retnet.cpp: multi-scale retention against a naive quadratic reference (double).
//
// The reference is written out here from the definition, independently of the layer and kernel:
// projections, RoPE at absolute positions p0 + t, the retention sum
//   o_t = K^-1/2 [ sum_{s<=t} gamma_h^(t-s) (R q_t . R k_s) v_s  +  gamma_h^(t+1) S_0^T R q_t ],
// with gamma_h = 1 - 2^(-5-h), then per-head RMSNorm * weight * SiLU(g_proj x) and o_proj. The
// mixer starts from a carried state holding S_0 and the position p0, so the test also checks
// that positions continue across calls and that the final state is exact.
#include <gtest/gtest.h>

#include <cmath>

#include "common/rng.h"
#include "models/mixers/retnet.h"
#include "tests/common/param_lookup.h"
#include "tests/common/relative_rms.h"

namespace db {
namespace {

using test::param;
using test::relative_rms;
using Mat = Eigen::MatrixXd;

// x [T, D] row-major -> x W^T with W [out, D]
Mat project(const std::vector<double>& x, int T, int D, const real* w, int out) {
  Mat X = Eigen::Map<const Eigen::Matrix<double, -1, -1, Eigen::RowMajor>>(x.data(), T, D);
  Mat W = Eigen::Map<const Eigen::Matrix<double, -1, -1, Eigen::RowMajor>>(w, out, D);
  return X * W.transpose();
}

TEST(RetNet, DecayPerHeadIsOneMinusTwoToTheMinusFiveMinusH) {
  EXPECT_DOUBLE_EQ(RetNetMixer::decay(0), 1.0 - 1.0 / 32);
  EXPECT_DOUBLE_EQ(RetNetMixer::decay(1), 1.0 - 1.0 / 64);
  EXPECT_DOUBLE_EQ(RetNetMixer::decay(3), 1.0 - 1.0 / 256);
}

TEST(RetNet, MatchesTheExplicitRetentionSumWithRopeAndCarriedState) {
  const int D = 8, H = 2, T = 37, p0 = 5;
  for (const char* mode : {"chunk", "recurrent"}) {
    SCOPED_TRACE(mode);
    ParamArena arena;
    OptionOverrides over = {{"num_heads", int64_t{H}}, {"mode", std::string(mode)}, {"chunk_size", int64_t{64}}};
    RetNetMixer mixer(D, Options::resolve(retnet_mixer_entry.options, over), arena);
    const int K = mixer.key_dim(), V = mixer.value_dim();
    ASSERT_EQ(K, 4);  // fla: expand_k 1, expand_v 2
    ASSERT_EQ(V, 8);
    // parameters large enough that the rotation and the decay visibly matter
    Rng rng(3);
    arena.initialize(rng);  // allocates the buffers
    for (size_t i = 0; i < arena.size(); ++i) arena.data()[i] = static_cast<real>(rng.normal() * 0.5);
    std::vector<double> x(size_t(T) * D);
    for (auto& v : x) v = rng.normal();
    const int64_t S = mixer.state_size();
    ASSERT_EQ(S, int64_t{H} * K * V + 1);  // matrices, then the position
    std::vector<real> state_in(S), state_out(S), y(size_t(T) * D);
    for (int64_t i = 0; i + 1 < S; ++i) state_in[i] = static_cast<real>(rng.normal() * 0.3);
    state_in[S - 1] = p0;
    std::vector<real> xr(x.begin(), x.end());
    mixer.forward_stateful(xr.data(), y.data(), 1, T, state_in.data(), state_out.data());

    const Mat q = project(x, T, D, param(arena, "q_proj.weight"), H * K);
    const Mat k = project(x, T, D, param(arena, "k_proj.weight"), H * K);
    const Mat v = project(x, T, D, param(arena, "v_proj.weight"), H * V);
    const Mat gate = project(x, T, D, param(arena, "g_proj.weight"), H * V);
    const real* norm_w = param(arena, "g_norm_swish_gate.weight");
    // RoPE, half-split pairs (i, i + K/2), angle = position * 10000^(-2i/K)
    auto rotate = [&](const Mat& m) {
      Mat r = m;
      for (int t = 0; t < T; ++t)
        for (int h = 0; h < H; ++h)
          for (int i = 0; i < K / 2; ++i) {
            const double a = (p0 + t) * std::pow(10000.0, -2.0 * i / K);
            const double x1 = m(t, h * K + i), x2 = m(t, h * K + i + K / 2);
            r(t, h * K + i) = x1 * std::cos(a) - x2 * std::sin(a);
            r(t, h * K + i + K / 2) = x2 * std::cos(a) + x1 * std::sin(a);
          }
      return r;
    };
    const Mat qr = rotate(q), kr = rotate(k);
    const double scale = 1.0 / std::sqrt(double(K));
    Mat normed(T, H * V);
    std::vector<double> final_state(S);
    for (int h = 0; h < H; ++h) {
      const double gamma = 1.0 - std::pow(2.0, -5.0 - h);
      Mat S0(K, V);
      for (int i = 0; i < K; ++i)
        for (int j = 0; j < V; ++j) S0(i, j) = state_in[(size_t(h) * K + i) * V + j];
      for (int t = 0; t < T; ++t) {
        Eigen::VectorXd o = std::pow(gamma, t + 1) * S0.transpose() * qr.row(t).segment(h * K, K).transpose();
        for (int s = 0; s <= t; ++s)
          o += std::pow(gamma, t - s) * qr.row(t).segment(h * K, K).dot(kr.row(s).segment(h * K, K)) *
               v.row(s).segment(h * V, V).transpose();
        o *= scale;
        const double rms = std::sqrt(o.squaredNorm() / V + 1e-5);
        for (int j = 0; j < V; ++j) {
          const double gz = gate(t, h * V + j);
          normed(t, h * V + j) = o(j) / rms * norm_w[j] * gz / (1.0 + std::exp(-gz));
        }
      }
      Mat ST = std::pow(gamma, T) * S0;
      for (int s = 0; s < T; ++s)
        ST += std::pow(gamma, T - 1 - s) * kr.row(s).segment(h * K, K).transpose() * v.row(s).segment(h * V, V);
      for (int i = 0; i < K; ++i)
        for (int j = 0; j < V; ++j) final_state[(size_t(h) * K + i) * V + j] = ST(i, j);
    }
    final_state[S - 1] = p0 + T;
    const Mat Wo = Eigen::Map<const Eigen::Matrix<double, -1, -1, Eigen::RowMajor>>(param(arena, "o_proj.weight"), D, H * V);
    const Mat y_ref = normed * Wo.transpose();
    std::vector<double> want(y_ref.size()), got(y.begin(), y.end());
    for (int t = 0; t < T; ++t)
      for (int j = 0; j < D; ++j) want[size_t(t) * D + j] = y_ref(t, j);
    EXPECT_LT(relative_rms(got, want), 1e-10);
    std::vector<double> state_got(state_out.begin(), state_out.end());
    EXPECT_LT(relative_rms(state_got, final_state), 1e-10);
    EXPECT_EQ(state_out[S - 1], p0 + T);
  }
}

}  // namespace
}  // namespace db
