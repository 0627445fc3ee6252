// test_decay_attention_kernel.cpp: the per-key-channel decayed linear-attention kernel under strong
// decay (float32).
//
// GLA's chunk form must stay finite and agree with the token-by-token reference even when the
// cumulative log decay inside a chunk reaches hundreds (here g down to -8 per token, so b reaches
// about -250 in a chunk of 64; exp(-b) alone would overflow float). The generic mode test runs
// only at the initial, mild decays, so this is where the stability claim is checked.
#include <gtest/gtest.h>

#include <cmath>

#include "common/rng.h"
#include "models/kernels/diagonal_decay_attention.h"
#include "tests/common/relative_rms.h"

namespace db {
namespace {

using test::relative_rms;

bool all_finite(const RealVector& v) {
  for (real x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

TEST(DecayAttentionKernel, ChunkFormIsFiniteAndMatchesTheRecurrenceUnderStrongDecay) {
  const Index T = 100, K = 8, V = 6;
  Rng rng(4);
  auto random = [&](size_t n, double lo, double hi) {
    RealVector v(n);
    for (auto& x : v) x = static_cast<real>(rng.uniform(lo, hi));
    return v;
  };
  const RealVector q = random(T * K, -1, 1), k = random(T * K, -1, 1), v = random(T * V, -1, 1);
  const RealVector g = random(T * K, -8, 0), h0 = random(K * V, -1, 1);
  const RealVector d_o = random(T * V, -1, 1), dht = random(K * V, -1, 1);
  DecayAttentionInputs in;
  in.T = T, in.K = K, in.V = V, in.chunk = 64;
  in.q = q.data(), in.k = k.data(), in.v = v.data(), in.g = g.data(), in.h0 = h0.data();

  struct Result {
    RealVector o, ht, dq, dk, dv, dg, dh0;
  };
  auto run = [&](bool chunked) {
    Result r{RealVector(T * V), RealVector(K * V), RealVector(T * K), RealVector(T * K), RealVector(T * V),
             RealVector(T * K), RealVector(K * V)};
    DecayAttentionWorkspace ws;
    DecayAttentionGrads gr{r.dq.data(), r.dk.data(), r.dv.data(), r.dg.data(), r.dh0.data()};
    if (chunked) {
      decay_attention_chunk_forward(in, r.o.data(), r.ht.data(), ws);
      decay_attention_chunk_backward(in, d_o.data(), dht.data(), gr, ws);
    } else {
      decay_attention_recurrent_forward(in, r.o.data(), r.ht.data(), ws);
      decay_attention_recurrent_backward(in, d_o.data(), dht.data(), gr, ws);
    }
    return r;
  };
  const Result c = run(true), r = run(false);
  for (const RealVector* x : {&c.o, &c.ht, &c.dq, &c.dk, &c.dv, &c.dg, &c.dh0}) EXPECT_TRUE(all_finite(*x));
  EXPECT_LT(relative_rms(c.o, r.o), 1e-5);
  EXPECT_LT(relative_rms(c.ht, r.ht), 1e-5);
  EXPECT_LT(relative_rms(c.dq, r.dq), 1e-5);
  EXPECT_LT(relative_rms(c.dk, r.dk), 1e-5);
  EXPECT_LT(relative_rms(c.dv, r.dv), 1e-5);
  EXPECT_LT(relative_rms(c.dg, r.dg), 1e-5);
  EXPECT_LT(relative_rms(c.dh0, r.dh0), 1e-5);
}

}  // namespace
}  // namespace db
