// test_mixer_threads.cpp: every registered mixer gives the same bits with one and with two OpenMP threads.
//
// Mixers run their (batch, head) or (batch, channel) sequences in parallel and reduce parameter
// gradients across them (gate biases, decays, recurrent kernels), which must happen in a fixed
// order. Outputs, final state, input and state gradients and every parameter gradient are
// compared bit for bit, from a carried state. Sizes are large enough that every parallel loop
// passes its work threshold. It iterates the registry, so a new mixer is covered with no new code.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/rng.h"
#include "models/core/registry.h"

namespace db {
namespace {

struct MixerRun {
  std::vector<real> y, state, dx, dstate, grads;
};

MixerRun run_with_threads(Mixer& m, ParamArena& arena, int threads, int B, int T, int D) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  Rng rng(99);
  auto randn = [&](size_t n) {
    std::vector<real> v(n);
    for (auto& x : v) x = static_cast<real>(rng.normal());
    return v;
  };
  const size_t S = size_t(B) * m.state_size();
  const auto x = randn(size_t(B) * T * D), dy = randn(x.size()), dso = randn(S);
  auto s0 = randn(S);
  MixerRun r;
  r.y.resize(x.size()), r.state.resize(S), r.dx.resize(x.size()), r.dstate.resize(S);
  // a carried state as the mixer itself produces it (a random one may be no reachable state, e.g.
  // sLSTM's normaliser n < 0)
  m.forward_stateful(x.data(), r.y.data(), B, T, nullptr, s0.data());
  arena.zero_grad();
  m.forward_stateful(x.data(), r.y.data(), B, T, s0.data(), r.state.data());
  m.backward_stateful(dy.data(), dso.data(), r.dx.data(), r.dstate.data());
  r.grads.assign(arena.grad(), arena.grad() + arena.size());
  omp_set_num_threads(saved);
  return r;
}

bool same_bits(const std::vector<real>& a, const std::vector<real>& b) {
  // memcmp must not see the null data() of an empty vector (a mixer without state or parameters)
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(real)) == 0);
}

std::vector<std::string> mixer_names() {
  std::vector<std::string> names;
  for (const auto* e : mixer_registry()) names.push_back(e->name);
  return names;
}

class MixerThreads : public ::testing::TestWithParam<std::string> {};

TEST_P(MixerThreads, SameBitsWithOneAndTwoThreads) {
  constexpr int B = 4, T = 64, D = 64;
  ParamArena arena;
  auto m = create_mixer(GetParam(), D, {}, arena);
  Rng rng(7);
  arena.initialize(rng);
  for (size_t i = 0; i < arena.size(); ++i) arena.data()[i] += static_cast<real>(0.1 * rng.normal());
  const MixerRun one = run_with_threads(*m, arena, 1, B, T, D);
  const MixerRun two = run_with_threads(*m, arena, 2, B, T, D);
  EXPECT_TRUE(same_bits(one.y, two.y)) << "outputs differ";
  EXPECT_TRUE(same_bits(one.state, two.state)) << "final states differ";
  EXPECT_TRUE(same_bits(one.dx, two.dx)) << "input gradients differ";
  EXPECT_TRUE(same_bits(one.dstate, two.dstate)) << "state gradients differ";
  EXPECT_TRUE(same_bits(one.grads, two.grads)) << "parameter gradients differ";
}

INSTANTIATE_TEST_SUITE_P(Registry, MixerThreads, ::testing::ValuesIn(mixer_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace db
