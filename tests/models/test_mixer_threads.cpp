// test_mixer_threads.cpp: gla, retnet and based give the same bits with one and two OpenMP threads.
//
// Their (batch, head) sequences run in parallel once the work passes a threshold; the sizes here
// pass it, and the run includes a carried state in and out and the full backward, so any
// reduction whose order followed the schedule would show as differing bits.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>

#include "common/rng.h"
#include "models/core/registry.h"

namespace db {
namespace {

struct MixerRun {
  std::vector<real> y, state, dx, dstate, grads;
};

MixerRun run_with_threads(const MixerEntry& e, const OptionOverrides& options, int threads) {
  constexpr int B = 3, T = 70, D = 32;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  ParamArena arena;
  auto mixer = e.create(D, Options::resolve(e.options, options), arena);
  Rng rng(21);
  arena.initialize(rng);
  for (size_t i = 0; i < arena.size(); ++i) arena.data()[i] += static_cast<real>(0.1 * rng.normal());
  auto randn = [&](size_t n) {
    std::vector<real> v(n);
    for (auto& x : v) x = static_cast<real>(rng.normal());
    return v;
  };
  const size_t n = size_t(B) * T * D, ns = size_t(B) * mixer->state_size();
  const auto x = randn(n), dy = randn(n), s0 = randn(ns), ds = randn(ns);
  MixerRun r{std::vector<real>(n), std::vector<real>(ns), std::vector<real>(n), std::vector<real>(ns), {}};
  arena.zero_grad();
  mixer->forward_stateful(x.data(), r.y.data(), B, T, s0.data(), r.state.data());
  mixer->backward_stateful(dy.data(), ds.data(), r.dx.data(), r.dstate.data());
  r.grads.assign(arena.grad(), arena.grad() + arena.size());
  omp_set_num_threads(saved);
  return r;
}

bool same_bits(const std::vector<real>& a, const std::vector<real>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(real)) == 0;
}

TEST(Threads, DecayAndBasedMixersGiveTheSameBitsWithOneAndTwoThreads) {
  const std::vector<std::pair<std::string, OptionOverrides>> cases = {
      {"gla", {{"use_short_conv", true}, {"num_heads", int64_t{1}}}},
      {"gla", {{"mode", std::string("recurrent")}, {"num_heads", int64_t{1}}}},
      {"retnet", {{"num_heads", int64_t{4}}}},
      {"based", {{"num_heads", int64_t{2}}, {"feature_dim", int64_t{8}}}},
  };
  for (const auto& [name, options] : cases) {
    SCOPED_TRACE(name);
    const MixerEntry* e = find_mixer(name);
    ASSERT_NE(e, nullptr);
    const MixerRun one = run_with_threads(*e, options, 1), two = run_with_threads(*e, options, 2);
    EXPECT_TRUE(same_bits(one.y, two.y)) << "outputs differ";
    EXPECT_TRUE(same_bits(one.state, two.state)) << "final states differ";
    EXPECT_TRUE(same_bits(one.dx, two.dx)) << "input gradients differ";
    EXPECT_TRUE(same_bits(one.dstate, two.dstate)) << "state gradients differ";
    EXPECT_TRUE(same_bits(one.grads, two.grads)) << "parameter gradients differ";
  }
}

}  // namespace
}  // namespace db
