// test_based.cpp: Based's feature map and normalised linear attention against their definitions (double).
//
// 1. The Taylor feature map induces the kernel phi(q).phi(k) = 1 + q.k/sqrt(f) + (q.k)^2/(2f) with
//    1 + f + f(f+1)/2 features.
// 2. The mixer equals the quadratic form written out here,
//      y_t = sum_{s<=t} k(q_t, k_s) v_s / (sum_{s<=t} k(q_t, k_s) + eps),   out = o_proj y,
//    per head, also when the sequence is run in two calls with the state carried between them.
#include <gtest/gtest.h>

#include <cmath>

#include "common/rng.h"
#include "models/mixers/based.h"
#include "tests/common/param_lookup.h"
#include "tests/common/relative_rms.h"

namespace db {
namespace {

using test::param;
using test::relative_rms;
using Mat = Eigen::Matrix<double, -1, -1, Eigen::RowMajor>;

TEST(Based, FeatureMapGivesTheSecondOrderTaylorKernel) {
  const int f = 5;
  ParamArena arena;
  BasedMixer mixer(8, Options::resolve(based_mixer_entry.options, {{"feature_dim", int64_t{f}}}), arena);
  ASSERT_EQ(mixer.features(), 1 + f + f * (f + 1) / 2);
  Rng rng(1);
  for (int trial = 0; trial < 5; ++trial) {
    std::vector<real> q(f), k(f), pq(mixer.features()), pk(mixer.features());
    for (int i = 0; i < f; ++i) q[i] = rng.normal(), k[i] = rng.normal();
    mixer.feature_map(q.data(), pq.data());
    mixer.feature_map(k.data(), pk.data());
    double dot = 0, qk = 0;
    for (int i = 0; i < mixer.features(); ++i) dot += pq[i] * pk[i];
    for (int i = 0; i < f; ++i) qk += q[i] * k[i];
    EXPECT_NEAR(dot, 1 + qk / std::sqrt(double(f)) + qk * qk / (2.0 * f), 1e-12);
  }
}

TEST(Based, MatchesTheNormalisedQuadraticFormAcrossASplit) {
  const int D = 8, H = 2, f = 3, T = 23, t1 = 9, V = D / H;
  ParamArena arena;
  BasedMixer mixer(D, Options::resolve(based_mixer_entry.options, {{"num_heads", int64_t{H}}, {"feature_dim", int64_t{f}}}),
                   arena);
  Rng rng(2);
  arena.initialize(rng);  // allocates the buffers
  for (size_t i = 0; i < arena.size(); ++i) arena.data()[i] = static_cast<real>(rng.normal() * 0.4);
  std::vector<real> x(size_t(T) * D);
  for (auto& v : x) v = rng.normal();
  const Mat X = Eigen::Map<const Mat>(x.data(), T, D);
  auto proj = [&](const char* name, int out) { return Mat(X * Eigen::Map<const Mat>(param(arena, name), out, D).transpose()); };
  const Mat q = proj("q_proj.weight", H * f), k = proj("k_proj.weight", H * f), v = proj("v_proj.weight", H * V);
  Mat y(T, H * V);
  for (int h = 0; h < H; ++h)
    for (int t = 0; t < T; ++t) {
      Eigen::VectorXd num = Eigen::VectorXd::Zero(V);
      double den = 1e-12;
      for (int s = 0; s <= t; ++s) {
        const double qk = q.row(t).segment(h * f, f).dot(k.row(s).segment(h * f, f));
        const double w = 1 + qk / std::sqrt(double(f)) + qk * qk / (2.0 * f);
        num += w * v.row(s).segment(h * V, V).transpose();
        den += w;
      }
      y.block(t, h * V, 1, V) = (num / den).transpose();
    }
  const Mat want = y * Eigen::Map<const Mat>(param(arena, "o_proj.weight"), D, H * V).transpose();

  const int64_t S = mixer.state_size();
  EXPECT_EQ(S, int64_t{H} * mixer.features() * (V + 1));
  EXPECT_EQ(mixer.reported_state_size(T), S);
  std::vector<real> out(x.size()), state(S);
  mixer.forward_stateful(x.data(), out.data(), 1, t1, nullptr, state.data());
  mixer.forward_stateful(x.data() + t1 * D, out.data() + t1 * D, 1, T - t1, state.data(), nullptr);
  std::vector<double> got(out.begin(), out.end()), ref(want.data(), want.data() + want.size());
  EXPECT_LT(relative_rms(got, ref), 1e-11);
}

}  // namespace
}  // namespace db
