// test_gla.cpp: gated linear attention against its definition written out naively (double).
//
//   gk = logsigmoid(W1 (W0 x) + b1) / gate_logit_normalizer,   per key channel
//   S_t = diag(exp(gk_t)) S_{t-1} + k_t v_t^T,   o_t = K^-1/2 S_t^T q_t
//   y = o_proj( RMSNorm_head(o) * w * SiLU(g_proj x) )
// from a carried initial state, in both forms; the final state must match too. Parameters are
// drawn large enough that the decays differ visibly between channels and tokens.
#include <gtest/gtest.h>

#include <cmath>

#include "common/rng.h"
#include "models/mixers/gla.h"
#include "tests/common/param_lookup.h"
#include "tests/common/relative_rms.h"

namespace db {
namespace {

using test::param;
using test::relative_rms;
using Mat = Eigen::Matrix<double, -1, -1, Eigen::RowMajor>;

TEST(Gla, MatchesTheGatedRecurrenceWrittenOut) {
  const int D = 8, H = 2, T = 41, r = 3;
  const double normalizer = 4;
  for (const char* mode : {"chunk", "recurrent"}) {
    SCOPED_TRACE(mode);
    ParamArena arena;
    OptionOverrides over = {{"num_heads", int64_t{H}},         {"mode", std::string(mode)},
                            {"gate_low_rank_dim", int64_t{r}}, {"gate_logit_normalizer", normalizer},
                            {"expand_k", 1.0}};
    GlaMixer mixer(D, Options::resolve(gla_mixer_entry.options, over), arena);
    const int K = mixer.key_dim(), V = mixer.value_dim();
    ASSERT_EQ(K, 4);
    ASSERT_EQ(V, 4);
    Rng rng(5);
    arena.initialize(rng);  // allocates the buffers
    for (size_t i = 0; i < arena.size(); ++i) arena.data()[i] = static_cast<real>(rng.normal() * 0.7);
    std::vector<real> x(size_t(T) * D);
    for (auto& v : x) v = rng.normal();
    const int64_t S = mixer.state_size();
    ASSERT_EQ(S, int64_t{H} * K * V);
    std::vector<real> state_in(S), state_out(S), y(x.size());
    for (auto& v : state_in) v = static_cast<real>(rng.normal() * 0.3);
    mixer.forward_stateful(x.data(), y.data(), 1, T, state_in.data(), state_out.data());

    const Mat X = Eigen::Map<const Mat>(x.data(), T, D);
    auto W = [&](const char* name, int out, int in) { return Mat(Eigen::Map<const Mat>(param(arena, name), out, in)); };
    const Mat q = X * W("q_proj.weight", H * K, D).transpose(), k = X * W("k_proj.weight", H * K, D).transpose();
    const Mat v = X * W("v_proj.weight", H * V, D).transpose(), gate = X * W("g_proj.weight", H * V, D).transpose();
    Mat z = X * W("gk_proj.0.weight", r, D).transpose() * W("gk_proj.1.weight", H * K, r).transpose();
    const real* bias = param(arena, "gk_proj.1.bias");
    for (int t = 0; t < T; ++t)
      for (int c = 0; c < H * K; ++c) z(t, c) += bias[c];
    const real* norm_w = param(arena, "g_norm_swish_gate.weight");
    Mat normed(T, H * V);
    std::vector<double> final_state(S);
    for (int h = 0; h < H; ++h) {
      Mat St(K, V);
      for (int i = 0; i < K * V; ++i) St.data()[i] = state_in[size_t(h) * K * V + i];
      for (int t = 0; t < T; ++t) {
        for (int i = 0; i < K; ++i) {
          const double gk = -std::log1p(std::exp(-z(t, h * K + i))) / normalizer;  // logsigmoid / normalizer
          St.row(i) *= std::exp(gk);
        }
        St += k.row(t).segment(h * K, K).transpose() * v.row(t).segment(h * V, V);
        const Eigen::VectorXd o = St.transpose() * q.row(t).segment(h * K, K).transpose() / std::sqrt(double(K));
        const double rms = std::sqrt(o.squaredNorm() / V + 1e-5);
        for (int j = 0; j < V; ++j) {
          const double gz = gate(t, h * V + j);
          normed(t, h * V + j) = o(j) / rms * norm_w[j] * gz / (1.0 + std::exp(-gz));
        }
      }
      for (int i = 0; i < K * V; ++i) final_state[size_t(h) * K * V + i] = St.data()[i];
    }
    const Mat want = normed * W("o_proj.weight", D, H * V).transpose();
    std::vector<double> got(y.begin(), y.end()), ref(want.data(), want.data() + want.size());
    EXPECT_LT(relative_rms(got, ref), 1e-10);
    std::vector<double> state_got(state_out.begin(), state_out.end());
    EXPECT_LT(relative_rms(state_got, final_state), 1e-10);
  }
}

}  // namespace
}  // namespace db
