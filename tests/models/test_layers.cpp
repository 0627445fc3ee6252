// test_layers.cpp: properties of the layer modules in the float (training) build.
//
// Normalisation invariants, the short conv's causality and state carrying, fla's SwiGLU hidden
// size rule, RoPE's relative-position property, products against naive loops, and that every layer
// gives the same bits with 1 and with 2 OpenMP threads. Gradients themselves are checked in double
// by tests/models_f64/test_gradcheck.cpp.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "models/numerics/activations.h"
#include "models/layers/embedding.h"
#include "models/numerics/gemm.h"
#include "models/layers/head_norm.h"
#include "models/layers/l2norm.h"
#include "models/layers/layernorm.h"
#include "models/layers/multi_head_layernorm.h"
#include "models/layers/linear.h"
#include "models/layers/lm_head_loss.h"
#include "models/layers/position_embedding.h"
#include "models/layers/rmsnorm.h"
#include "models/layers/rope.h"
#include "models/layers/short_conv.h"
#include "models/layers/swiglu_mlp.h"
#include "tests/common/relative_rms.h"
#include "tests/common/gradcheck_wrappers.h"

namespace db {
namespace {

std::vector<real> randn(size_t n, Rng& rng, double std = 1.0) {
  std::vector<real> v(n);
  for (auto& e : v) e = static_cast<real>(rng.normal() * std);
  return v;
}

bool same_bits(const std::vector<real>& a, const std::vector<real>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(real)) == 0);
}

// ---- norms ----

TEST(RMSNorm, UnitRmsBeforeTheWeight) {
  ParamArena arena;
  RMSNorm norm(arena, "norm", 32, 1e-6);
  Rng rng(1);
  arena.initialize(rng);
  for (int j = 0; j < 32; ++j) norm.weight.data()[j] = static_cast<real>(0.5 + 0.05 * j);
  const int B = 3, T = 5;
  std::vector<real> x = randn(B * T * 32, rng, 3.0), y(x.size());
  norm.forward(x.data(), y.data(), B, T);
  for (int r = 0; r < B * T; ++r) {
    double ss = 0;
    for (int j = 0; j < 32; ++j) {
      const double u = y[r * 32 + j] / norm.weight.data()[j];
      ss += u * u;
    }
    EXPECT_NEAR(std::sqrt(ss / 32), 1.0, 1e-5) << "row " << r;
  }
}

TEST(LayerNorm, ZeroMeanUnitVarianceBeforeTheAffine) {
  ParamArena arena;
  LayerNorm norm(arena, "norm", 16, 1e-5);
  Rng rng(2);
  arena.initialize(rng);
  const int B = 2, T = 4;
  std::vector<real> x = randn(B * T * 16, rng, 2.0), y(x.size());
  for (auto& v : x) v += 5;  // a large mean must be removed
  norm.forward(x.data(), y.data(), B, T);
  for (int r = 0; r < B * T; ++r) {
    double m = 0, v = 0;
    for (int j = 0; j < 16; ++j) m += y[r * 16 + j];
    m /= 16;
    for (int j = 0; j < 16; ++j) v += (y[r * 16 + j] - m) * (y[r * 16 + j] - m);
    EXPECT_NEAR(m, 0.0, 1e-5);
    EXPECT_NEAR(v / 16, 1.0, 1e-3);  // eps 1e-5 against variance ~4
  }
}

TEST(L2Norm, RowsHaveUnitNorm) {
  Rng rng(3);
  const int rows = 50, dim = 16;
  std::vector<real> x = randn(rows * dim, rng, 2.0), y(x.size()), rstd(rows);
  l2norm_forward(x.data(), y.data(), rstd.data(), rows, dim);
  for (int r = 0; r < rows; ++r) {
    double ss = 0;
    for (int j = 0; j < dim; ++j) ss += double(y[r * dim + j]) * y[r * dim + j];
    EXPECT_NEAR(std::sqrt(ss), 1.0, 1e-5);
  }
  // eps sits inside the sqrt: a zero row stays finite (all zeros), rstd = 1/sqrt(1e-6)
  std::vector<real> z(dim, real(0)), zy(dim), zr(1);
  l2norm_forward(z.data(), zy.data(), zr.data(), 1, dim);
  EXPECT_NEAR(zr[0], 1000.0, 1e-2);
  for (real v : zy) EXPECT_EQ(v, real(0));
}

TEST(HeadNorm, EachHeadNormalisedWithTheSharedWeight) {
  ParamArena arena;
  HeadNorm norm(arena, "o_norm", 3, 8, 1e-5);
  Rng rng(4);
  arena.initialize(rng);
  for (int j = 0; j < 8; ++j) norm.weight.data()[j] = static_cast<real>(1 + 0.1 * j);
  const int rows = 6;
  std::vector<real> o = randn(rows * 24, rng), g = randn(rows * 24, rng), y(o.size()), yg(o.size());
  norm.forward(o.data(), nullptr, y.data(), rows);
  norm.forward(o.data(), g.data(), yg.data(), rows);
  for (int r = 0; r < rows; ++r)
    for (int h = 0; h < 3; ++h) {
      double ss = 0;
      for (int j = 0; j < 8; ++j) {
        const double u = y[r * 24 + h * 8 + j] / norm.weight.data()[j];
        ss += u * u;
        // gated = ungated * silu(gate)
        EXPECT_NEAR(yg[r * 24 + h * 8 + j], y[r * 24 + h * 8 + j] * silu(g[r * 24 + h * 8 + j]), 1e-5);
      }
      EXPECT_NEAR(std::sqrt(ss / 8), 1.0, 1e-4);
    }
}

// ---- short conv ----

struct ConvFixture {
  ParamArena arena;
  std::unique_ptr<ShortConv> conv;
  ConvFixture(int C, int W, bool silu) {
    conv = std::make_unique<ShortConv>(arena, "conv1d", C, W, silu);
    Rng rng(11);
    arena.initialize(rng);
    for (size_t i = 0; i < conv->weight.size(); ++i) conv->weight.data()[i] = static_cast<real>(rng.normal() * 0.5);
  }
};

TEST(ShortConv, MatchesTheDefinition) {
  const int B = 2, T = 9, C = 3, W = 4;
  ConvFixture f(C, W, /*silu=*/false);
  Rng rng(12);
  std::vector<real> x = randn(B * T * C, rng), state = randn(B * (W - 1) * C, rng), y(x.size());
  f.conv->forward_stateful(x.data(), y.data(), B, T, state.data(), nullptr);
  const real* w = f.conv->weight.data();  // [C,1,W]
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int c = 0; c < C; ++c) {
        double z = 0;
        for (int i = 0; i < W; ++i) {
          const int s = t - W + 1 + i;  // input time; negative = from the state
          const double xv = s >= 0 ? x[(b * T + s) * C + c] : state[b * (W - 1) * C + (W - 1 + s) * C + c];
          z += w[c * W + i] * xv;
        }
        EXPECT_NEAR(y[(b * T + t) * C + c], z, 1e-5);
      }
}

TEST(ShortConv, IsCausal) {
  const int B = 2, T = 12, C = 5;
  ConvFixture f(C, 4, true);
  Rng rng(13);
  const std::vector<real> x = randn(B * T * C, rng);
  std::vector<real> y0(x.size()), y1(x.size());
  f.conv->forward(x.data(), y0.data(), B, T);
  for (int t = 0; t < T; ++t) {
    std::vector<real> x2 = x;
    for (int b = 0; b < B; ++b)
      for (int c = 0; c < C; ++c) x2[(b * T + t) * C + c] += 1;
    f.conv->forward(x2.data(), y1.data(), B, T);
    for (int b = 0; b < B; ++b)
      for (int s = 0; s < T; ++s)
        for (int c = 0; c < C; ++c) {
          const size_t i = (b * T + s) * C + c;
          if (s < t) {
            EXPECT_EQ(y0[i], y1[i]) << "output at " << s << " moved when input at " << t << " changed";
          } else if (s == t) {
            EXPECT_NE(y0[i], y1[i]);
          }
        }
  }
}

// run [0,T1) then [T1,T) with the state carried, against one call; then the backward of the
// second half feeding dstate_in into the first half's dstate_out, against one backward
void expect_split_equals_whole(int T1) {
  const int B = 2, T = 11, C = 4, W = 4;
  const int T2 = T - T1;
  const size_t S = (W - 1) * C;
  ConvFixture f(C, W, true);
  Rng rng(14);
  const std::vector<real> x = randn(B * T * C, rng), dy = randn(B * T * C, rng), s0 = randn(B * S, rng);
  const std::vector<real> dsT = randn(B * S, rng);

  std::vector<real> y(x.size()), sT(B * S), dx(x.size()), ds0(B * S);
  f.arena.zero_grad();
  f.conv->forward_stateful(x.data(), y.data(), B, T, s0.data(), sT.data());
  f.conv->backward_stateful(dy.data(), dsT.data(), dx.data(), ds0.data());
  const std::vector<real> gw(f.conv->weight.grad(), f.conv->weight.grad() + f.conv->weight.size());

  // the halves, batch-major buffers sliced per sequence
  auto slice = [&](const std::vector<real>& v, int t0, int n) {
    std::vector<real> out(B * n * C);
    for (int b = 0; b < B; ++b)
      std::copy(v.begin() + (b * T + t0) * C, v.begin() + (b * T + t0 + n) * C, out.begin() + b * n * C);
    return out;
  };
  const auto x1 = slice(x, 0, T1), x2 = slice(x, T1, T2), dy1 = slice(dy, 0, T1), dy2 = slice(dy, T1, T2);
  std::vector<real> y1(x1.size()), y2(x2.size()), sm(B * S), sT2(B * S);
  ParamArena& a = f.arena;
  a.zero_grad();
  f.conv->forward_stateful(x1.data(), y1.data(), B, T1, s0.data(), sm.data());
  f.conv->forward_stateful(x2.data(), y2.data(), B, T2, sm.data(), sT2.data());
  EXPECT_TRUE(same_bits(sT, sT2));
  const auto ya = slice(y, 0, T1), yb = slice(y, T1, T2);
  EXPECT_TRUE(same_bits(ya, y1));
  EXPECT_TRUE(same_bits(yb, y2));

  // backward of the second half (its forward is the latest), then redo the first half's forward
  std::vector<real> dx1(x1.size()), dx2(x2.size()), dsm(B * S), ds0b(B * S);
  f.conv->backward_stateful(dy2.data(), dsT.data(), dx2.data(), dsm.data());
  f.conv->forward_stateful(x1.data(), y1.data(), B, T1, s0.data(), sm.data());
  f.conv->backward_stateful(dy1.data(), dsm.data(), dx1.data(), ds0b.data());
  const auto dxa = slice(dx, 0, T1), dxb = slice(dx, T1, T2);
  for (size_t i = 0; i < dxa.size(); ++i) EXPECT_NEAR(dxa[i], dx1[i], 1e-5);
  for (size_t i = 0; i < dxb.size(); ++i) EXPECT_NEAR(dxb[i], dx2[i], 1e-5);
  for (size_t i = 0; i < ds0.size(); ++i) EXPECT_NEAR(ds0[i], ds0b[i], 1e-5);
  for (size_t i = 0; i < gw.size(); ++i) EXPECT_NEAR(gw[i], f.conv->weight.grad()[i], 1e-4);
}

TEST(ShortConv, CarryingTheStateAcrossASplitEqualsOneCall) {
  for (int T1 : {1, 2, 3, 5, 10}) {
    SCOPED_TRACE("split at " + std::to_string(T1));
    expect_split_equals_whole(T1);
  }
}

// ---- MLP ----

TEST(SwiGLU, HiddenSizeRule) {
  EXPECT_EQ(swiglu_hidden_size(2048), 5632);
  EXPECT_EQ(swiglu_hidden_size(128), 512);  // int(341.33) = 341 -> 2 * 256
  EXPECT_EQ(swiglu_hidden_size(1024), 2816);
  EXPECT_EQ(swiglu_hidden_size(64, 2.0), 256);  // int(85.33) -> 1 * 256
}

TEST(SwiGLU, ParameterNamesAndShapesFollowFla) {
  ParamArena arena;
  {
    ParamArena::Scope s(arena, "model.layers.0");
    SwiGLUMLP mlp(arena, "mlp", 6, 8);
  }
  ASSERT_GE(arena.find("model.layers.0.mlp.gate_proj.weight"), 0);
  ASSERT_GE(arena.find("model.layers.0.mlp.up_proj.weight"), 0);
  ASSERT_GE(arena.find("model.layers.0.mlp.down_proj.weight"), 0);
  EXPECT_EQ(arena.params()[arena.find("model.layers.0.mlp.down_proj.weight")].shape, (std::vector<int64_t>{6, 8}));
  EXPECT_EQ(arena.params()[arena.find("model.layers.0.mlp.gate_proj.weight")].shape, (std::vector<int64_t>{8, 6}));
}

TEST(SwiGLU, MatchesTheDefinition) {
  ParamArena arena;
  SwiGLUMLP mlp(arena, "mlp", 4, 5);
  Rng rng(21);
  arena.initialize(rng);
  for (size_t i = 0; i < arena.size(); ++i) arena.data()[i] = static_cast<real>(rng.normal() * 0.5);
  std::vector<real> x = randn(2 * 4, rng), y(2 * 4);
  mlp.forward(x.data(), y.data(), 1, 2);
  const real *Wg = mlp.gate_proj.weight.data(), *Wu = mlp.up_proj.weight.data(), *Wd = mlp.down_proj.weight.data();
  for (int r = 0; r < 2; ++r)
    for (int o = 0; o < 4; ++o) {
      double acc = 0;
      for (int f = 0; f < 5; ++f) {
        double g = 0, u = 0;
        for (int i = 0; i < 4; ++i) {
          g += Wg[f * 4 + i] * x[r * 4 + i];
          u += Wu[f * 4 + i] * x[r * 4 + i];
        }
        acc += Wd[o * 5 + f] * silu(g) * u;
      }
      EXPECT_NEAR(y[r * 4 + o], acc, 1e-5);
    }
}

// ---- products ----

TEST(Gemm, MatchesNaiveLoopsAcrossBlockEdges) {
  Rng rng(31);
  const Index M = 300, N = 9, K = 37;  // 300 rows = two full 128-row blocks and a partial one
  const auto A = randn(M * K, rng), Bnt = randn(N * K, rng), Bnn = randn(K * N, rng), At = randn(K * M, rng);
  std::vector<real> C(M * N, real(1));
  gemm_nt(A.data(), Bnt.data(), C.data(), M, N, K, /*accumulate=*/true);
  for (Index m = 0; m < M; ++m)
    for (Index n = 0; n < N; ++n) {
      double s = 1;
      for (Index k = 0; k < K; ++k) s += double(A[m * K + k]) * Bnt[n * K + k];
      EXPECT_NEAR(C[m * N + n], s, 1e-4);
    }
  gemm_nn(A.data(), Bnn.data(), C.data(), M, N, K);
  for (Index m = 0; m < M; ++m)
    for (Index n = 0; n < N; ++n) {
      double s = 0;
      for (Index k = 0; k < K; ++k) s += double(A[m * K + k]) * Bnn[k * N + n];
      EXPECT_NEAR(C[m * N + n], s, 1e-4);
    }
  gemm_tn(At.data(), Bnn.data(), C.data(), M, N, K);
  for (Index m = 0; m < M; ++m)
    for (Index n = 0; n < N; ++n) {
      double s = 0;
      for (Index k = 0; k < K; ++k) s += double(At[k * M + m]) * Bnn[k * N + n];
      EXPECT_NEAR(C[m * N + n], s, 1e-4);
    }
}

// A weight gradient's summed dimension (B*T rows) is split into depth groups whose partials are
// added in order: the sum must still be the product, and its bits the same on 1 and 2 threads.
TEST(Gemm, WeightGradientOverManyDepthGroupsMatchesLoopsWithTheSameBitsOnAnyThreadCount) {
  Rng rng(32);
  const Index M = 200, N = 9, K = 5000;  // K / 1024 = 4 depth groups; 200 rows = a full and a partial block
  const auto A = randn(K * M, rng), B = randn(K * N, rng);
  const int threads = omp_get_max_threads();
  std::vector<real> C1(M * N, real(0.5)), C2(M * N, real(0.5));
  omp_set_num_threads(1);
  gemm_tn(A.data(), B.data(), C1.data(), M, N, K, /*accumulate=*/true);
  omp_set_num_threads(2);
  gemm_tn(A.data(), B.data(), C2.data(), M, N, K, /*accumulate=*/true);
  omp_set_num_threads(threads);
  EXPECT_EQ(std::memcmp(C1.data(), C2.data(), C1.size() * sizeof(real)), 0);
  for (Index m = 0; m < M; ++m)
    for (Index n = 0; n < N; ++n) {
      double s = 0.5, magnitude = 0.5;  // float rounding grows with the sum of |terms|
      for (Index k = 0; k < K; ++k) {
        s += double(A[k * M + m]) * B[k * N + n];
        magnitude += std::abs(double(A[k * M + m]) * B[k * N + n]);
      }
      EXPECT_NEAR(C1[m * N + n], s, 1e-5 * magnitude) << m << "," << n;
    }
  // without accumulate the old contents are dropped
  std::vector<real> C3(M * N, real(7));
  gemm_tn(A.data(), B.data(), C3.data(), M, N, K);
  for (Index i = 0; i < M * N; ++i) EXPECT_NEAR(C3[i], C1[i] - real(0.5), 1e-4 * std::abs(C1[i]) + 1e-4);
}

// ---- LM head ----

// The blocked, vocabulary-major head against the definition written out in double: 700 rows make
// five full 128-row blocks and a partial one, in six dW partials, so block edges, the group partials
// and their sum are all exercised; and 1 and 2 threads give the same bits.
TEST(LmHeadLoss, ManyBlocksMatchTheDefinitionWithTheSameBitsOnAnyThreadCount) {
  Rng rng(33);
  const int64_t M = 700;
  const int D = 16, N = 300;
  const auto hidden = randn(M * D, rng), weight = randn(size_t(N) * D, rng, 0.5), bias = randn(N, rng, 0.5);
  std::vector<int32_t> targets(M);
  for (auto& t : targets) t = static_cast<int32_t>(rng.below(N));
  const real scale = real(1) / real(M);

  struct Out {
    double loss;
    std::vector<int32_t> argmax;
    std::vector<real> dhidden, dweight, dbias;
  };
  auto run = [&](int threads) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    LmHeadLoss head;
    Out o;
    o.argmax.resize(M);
    o.loss = head.forward(hidden.data(), M, D, weight.data(), bias.data(), N, targets.data(), o.argmax.data(), scale);
    o.dweight.assign(weight.size(), real(0));
    o.dbias.assign(N, real(0));
    const real* dh = head.backward(o.dweight.data(), o.dbias.data());
    o.dhidden.assign(dh, dh + M * D);
    omp_set_num_threads(saved);
    return o;
  };
  const Out one = run(1), two = run(2);
  EXPECT_EQ(one.loss, two.loss);
  EXPECT_EQ(one.argmax, two.argmax);
  EXPECT_TRUE(same_bits(one.dhidden, two.dhidden));
  EXPECT_TRUE(same_bits(one.dweight, two.dweight));
  EXPECT_TRUE(same_bits(one.dbias, two.dbias));

  // the definition: z = h W^T + b, loss = sum of logsumexp(z) - z[y], dz = scale (softmax(z) - onehot(y))
  double loss = 0;
  std::vector<double> dhidden(M * D, 0.0), dweight(size_t(N) * D, 0.0), dbias(N, 0.0), z(N);
  for (int64_t r = 0; r < M; ++r) {
    int best = 0;
    for (int n = 0; n < N; ++n) {
      z[n] = bias[n];
      for (int d = 0; d < D; ++d) z[n] += double(hidden[r * D + d]) * weight[size_t(n) * D + d];
      if (z[n] > z[best]) best = n;
    }
    EXPECT_EQ(one.argmax[r], best) << "row " << r;
    const double zmax = z[best];
    double sum = 0;
    for (int n = 0; n < N; ++n) sum += std::exp(z[n] - zmax);
    loss += std::log(sum) + zmax - z[targets[r]];
    for (int n = 0; n < N; ++n) {
      const double dz = scale * (std::exp(z[n] - zmax) / sum - (n == targets[r] ? 1.0 : 0.0));
      dbias[n] += dz;
      for (int d = 0; d < D; ++d) {
        dhidden[r * D + d] += dz * weight[size_t(n) * D + d];
        dweight[size_t(n) * D + d] += dz * hidden[r * D + d];
      }
    }
  }
  EXPECT_NEAR(one.loss, loss, 1e-5 * loss);
  EXPECT_LT(test::relative_rms(one.dhidden, dhidden), 1e-5);
  EXPECT_LT(test::relative_rms(one.dweight, dweight), 1e-5);
  EXPECT_LT(test::relative_rms(one.dbias, dbias), 1e-5);
}

TEST(Linear, ForwardAndBiasAndNames) {
  ParamArena arena;
  Linear lin(arena, "q_proj", 3, 2, /*bias=*/true);
  arena.allocate();
  EXPECT_GE(arena.find("q_proj.weight"), 0);
  EXPECT_GE(arena.find("q_proj.bias"), 0);
  EXPECT_FALSE(arena.params()[arena.find("q_proj.bias")].weight_decay);
  const real w[6] = {1, 2, 3, 4, 5, 6};  // [out=2, in=3]
  std::copy(w, w + 6, lin.weight.data());
  lin.bias.data()[0] = 10;
  lin.bias.data()[1] = 20;
  const std::vector<real> x = {1, 0, -1};
  std::vector<real> y(2);
  lin.forward(x.data(), y.data(), 1, 1);
  EXPECT_EQ(y[0], 1 - 3 + 10);
  EXPECT_EQ(y[1], 4 - 6 + 20);
}

// ---- rope ----

TEST(Rope, PreservesNormsAndDependsOnlyOnRelativePosition) {
  const int H = 2, K = 8;
  Rope rope(K);
  Rng rng(41);
  const auto q = randn(H * K, rng), k = randn(H * K, rng);
  auto rotated = [&](const std::vector<real>& v, int pos) {
    std::vector<real> out = v;
    rope.forward(out.data(), 1, 1, H, pos);
    return out;
  };
  auto dot = [&](const std::vector<real>& a, const std::vector<real>& b, int h) {
    double s = 0;
    for (int j = 0; j < K; ++j) s += double(a[h * K + j]) * b[h * K + j];
    return s;
  };
  for (int h = 0; h < H; ++h) {
    EXPECT_NEAR(dot(rotated(q, 7), rotated(q, 7), h), dot(q, q, h), 1e-4);
    // <R(3) q, R(1) k> == <R(12) q, R(10) k>
    EXPECT_NEAR(dot(rotated(q, 3), rotated(k, 1), h), dot(rotated(q, 12), rotated(k, 10), h), 1e-4);
  }
  // position 0 is the identity; backward undoes forward
  EXPECT_TRUE(same_bits(rotated(q, 0), q));
  std::vector<real> v = randn(3 * 5 * H * K, rng), v0 = v;
  rope.forward(v.data(), 3, 5, H, 2);
  rope.backward(v.data(), 3, 5, H, 2);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], v0[i], 1e-5);
}

TEST(Rope, HalfSplitPairsMatchRotateHalf) {
  // K=4: pairs (0,2) and (1,3); at position p the first pair turns by p, the second by p/100
  Rope rope(4);
  std::vector<real> x = {1, 0, 0, 0};
  rope.forward(x.data(), 1, 1, 1, 2);
  EXPECT_NEAR(x[0], std::cos(2.0), 1e-6);
  EXPECT_NEAR(x[2], std::sin(2.0), 1e-6);
  std::vector<real> z = {0, 1, 0, 0};
  rope.forward(z.data(), 1, 1, 1, 2);
  EXPECT_NEAR(z[1], std::cos(0.02), 1e-6);
  EXPECT_NEAR(z[3], std::sin(0.02), 1e-6);
}

// ---- embeddings ----

TEST(PositionEmbedding, OffsetContinuesPositions) {
  ParamArena arena;
  PositionEmbedding pe(arena, "wpe", 10, 3);
  Rng rng(51);
  arena.initialize(rng);
  const std::vector<real> x(2 * 4 * 3, real(0));
  std::vector<real> y(x.size());
  pe.forward_at(x.data(), y.data(), 2, 4, 5);
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 4; ++t)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(y[(b * 4 + t) * 3 + c], pe.weight.data()[(5 + t) * 3 + c]);
}

// ---- thread-count independence ----

struct LayerRun {
  std::vector<real> y, dx, grads;
};

// forward + backward of m on fixed inputs with `threads` OpenMP threads
LayerRun run_with_threads(Module& m, ParamArena& arena, int threads, int B, int T) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  Rng rng(99);
  const auto x = randn(size_t(B) * T * m.in_dim(), rng), dy = randn(size_t(B) * T * m.out_dim(), rng);
  LayerRun r;
  r.y.resize(dy.size());
  r.dx.resize(x.size());
  arena.zero_grad();
  if (auto* mixer = dynamic_cast<Mixer*>(&m); mixer && mixer->state_size() > 0) {
    const auto s0 = randn(size_t(B) * mixer->state_size(), rng), ds = randn(s0.size(), rng);
    std::vector<real> sT(s0.size()), ds0(s0.size());
    mixer->forward_stateful(x.data(), r.y.data(), B, T, s0.data(), sT.data());
    mixer->backward_stateful(dy.data(), ds.data(), r.dx.data(), ds0.data());
    r.y.insert(r.y.end(), sT.begin(), sT.end());
    r.dx.insert(r.dx.end(), ds0.begin(), ds0.end());
  } else {
    m.forward(x.data(), r.y.data(), B, T);
    m.backward(dy.data(), r.dx.data());
  }
  r.grads.assign(arena.grad(), arena.grad() + arena.size());
  omp_set_num_threads(saved);
  return r;
}

TEST(Threads, LayersGiveTheSameBitsWithOneAndTwoThreads) {
  // sizes large enough that every parallel loop has several blocks and passes the work threshold
  constexpr int B = 4, T = 150, D = 64;
  using Factory = std::function<std::unique_ptr<Module>(ParamArena&)>;
  const std::vector<std::pair<std::string, Factory>> layers = {
      {"linear", [&](ParamArena& a) { return std::make_unique<Linear>(a, "proj", D, 96, true); }},
      {"rmsnorm", [&](ParamArena& a) { return std::make_unique<RMSNorm>(a, "norm", D); }},
      {"layernorm", [&](ParamArena& a) { return std::make_unique<LayerNorm>(a, "norm", D); }},
      {"multi_head_layernorm", [&](ParamArena& a) { return std::make_unique<MultiHeadLayerNorm>(a, "norm", 4, 16); }},
      {"short_conv", [&](ParamArena& a) { return std::make_unique<ShortConv>(a, "conv1d", D, 4, true); }},
      {"swiglu_mlp", [&](ParamArena& a) { return std::make_unique<SwiGLUMLP>(a, "mlp", D, 160); }},
      {"l2norm", [](ParamArena&) { return std::make_unique<test::L2NormModule>(4, 16); }},
      {"head_norm_gated", [&](ParamArena& a) { return std::make_unique<test::HeadNormModule>(a, "o_norm", 4, 16, true); }},
      {"position_embedding", [&](ParamArena& a) { return std::make_unique<PositionEmbedding>(a, "wpe", 200, D); }},
      {"rope", [](ParamArena&) { return std::make_unique<test::RopeModule>(4, 16); }},
  };
  for (const auto& [name, make] : layers) {
    SCOPED_TRACE(name);
    ParamArena arena;
    auto m = make(arena);
    Rng rng(7);
    arena.initialize(rng);
    for (size_t i = 0; i < arena.size(); ++i) arena.data()[i] += static_cast<real>(0.1 * rng.normal());
    const LayerRun one = run_with_threads(*m, arena, 1, B, T);
    const LayerRun two = run_with_threads(*m, arena, 2, B, T);
    EXPECT_TRUE(same_bits(one.y, two.y)) << "outputs differ";
    EXPECT_TRUE(same_bits(one.dx, two.dx)) << "input gradients differ";
    EXPECT_TRUE(same_bits(one.grads, two.grads)) << "parameter gradients differ";
  }
}

TEST(Threads, EmbeddingGivesTheSameBitsWithOneAndTwoThreads) {
  ParamArena arena;
  Embedding emb(arena, "embeddings", 50, 64);
  Rng rng(8);
  arena.initialize(rng);
  const int B = 4, T = 200;
  std::vector<int32_t> ids(B * T);
  for (auto& id : ids) id = static_cast<int32_t>(rng.below(50));  // many repeats
  const auto dy = randn(B * T * 64, rng);
  std::vector<std::vector<real>> grads;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    std::vector<real> y(B * T * 64);
    arena.zero_grad();
    emb.forward(ids.data(), y.data(), B, T);
    emb.backward(dy.data());
    grads.emplace_back(arena.grad(), arena.grad() + arena.size());
  }
  EXPECT_TRUE(same_bits(grads[0], grads[1]));
}

}  // namespace
}  // namespace db
