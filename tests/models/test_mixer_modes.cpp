// test_mixer_modes.cpp: registry-wide checks of each mixer's execution modes (float32).
//
// 1. Chunkwise vs recurrent: every mixer with both forms gives the same outputs, final state, input
//    gradient, initial-state gradient and parameter gradients (RMS(diff)/RMS(ref) <= 1e-5) at odd
//    lengths and partial chunks, starting from a carried state.
// 2. Split runs: for every mixer that carries a state, running [0, t) then [t, T) with the state
//    passed along equals one call over [0, T), in outputs and final state (fla#285), and the
//    backward through the split (dstate handed back) gives the same input gradient.
// Both iterate the registry, so a new mixer is covered with no new test code.
#include <gtest/gtest.h>

#include <cmath>

#include "common/rng.h"
#include "models/core/registry.h"
#include "tests/common/relative_rms.h"

namespace db {
namespace {

using test::relative_rms;

std::vector<real> random_vector(size_t n, Rng& rng, double std = 1.0) {
  std::vector<real> v(n);
  for (auto& x : v) x = static_cast<real>(rng.normal() * std);
  return v;
}

struct Case {
  const MixerEntry* entry;
  size_t variant;
  int T;
};

// readable in ctest listings instead of a byte dump
void PrintTo(const Case& c, std::ostream* os) { *os << c.entry->name << " variant " << c.variant << " T=" << c.T; }

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.entry->name + "_v" + std::to_string(info.param.variant) + "_T" + std::to_string(info.param.T);
}

struct Built {
  std::unique_ptr<ParamArena> arena = std::make_unique<ParamArena>();
  std::unique_ptr<Mixer> mixer;
};

Built build(const MixerEntry& e, OptionOverrides options, uint64_t seed) {
  Built b;
  b.mixer = e.create(16, Options::resolve(e.options, options), *b.arena);
  Rng rng(seed);
  b.arena->initialize(rng);
  return b;
}

constexpr int kBatch = 2, kWidth = 16;

std::vector<Case> mode_cases() {
  std::vector<Case> out;
  for (const auto* e : mixer_registry())
    if (e->has_recurrent_mode())
      for (size_t v = 0; v < e->test_variants.size(); ++v)
        for (int T : {1, 37, 100}) out.push_back({e, v, T});
  return out;
}

class ChunkVsRecurrent : public ::testing::TestWithParam<Case> {};

TEST_P(ChunkVsRecurrent, OutputsStatesAndAllGradientsAgree) {
  const Case c = GetParam();
  OptionOverrides chunk = c.entry->test_variants[c.variant], recurrent = chunk;
  chunk["mode"] = std::string("chunk");
  recurrent["mode"] = std::string("recurrent");
  Built a = build(*c.entry, chunk, 3), b = build(*c.entry, recurrent, 3);
  const int64_t S = a.mixer->state_size();
  ASSERT_EQ(S, b.mixer->state_size());
  Rng rng(9);
  const size_t n = size_t(kBatch) * c.T * kWidth;
  const auto x = random_vector(n, rng), dy = random_vector(n, rng);
  const auto s0 = random_vector(size_t(kBatch) * S, rng, 0.3), ds = random_vector(size_t(kBatch) * S, rng);
  struct Out {
    std::vector<real> y, state, dx, dstate;
  };
  auto run = [&](Built& m) {
    Out o{std::vector<real>(n), std::vector<real>(kBatch * S), std::vector<real>(n), std::vector<real>(kBatch * S)};
    m.mixer->forward_stateful(x.data(), o.y.data(), kBatch, c.T, s0.data(), o.state.data());
    m.mixer->backward_stateful(dy.data(), ds.data(), o.dx.data(), o.dstate.data());
    return o;
  };
  const Out ra = run(a), rb = run(b);
  EXPECT_LT(relative_rms(ra.y, rb.y), 1e-5);
  EXPECT_LT(relative_rms(ra.state, rb.state), 1e-5);
  EXPECT_LT(relative_rms(ra.dx, rb.dx), 1e-5);
  EXPECT_LT(relative_rms(ra.dstate, rb.dstate), 1e-5);
  for (const auto& p : a.arena->params()) {
    std::vector<real> ga(a.arena->grad() + p.offset, a.arena->grad() + p.offset + p.size);
    std::vector<real> gb(b.arena->grad() + p.offset, b.arena->grad() + p.offset + p.size);
    EXPECT_LT(relative_rms(ga, gb), 1e-5) << p.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Registry, ChunkVsRecurrent, ::testing::ValuesIn(mode_cases()), case_name);

std::vector<Case> split_cases() {
  std::vector<Case> out;
  for (const auto* e : mixer_registry())
    for (size_t v = 0; v < e->test_variants.size(); ++v) out.push_back({e, v, 45});
  return out;
}

class SplitRun : public ::testing::TestWithParam<Case> {};

TEST_P(SplitRun, CarriedStateEqualsOneCall) {
  const Case c = GetParam();
  Built full = build(*c.entry, c.entry->test_variants[c.variant], 5);
  const int64_t S = full.mixer->state_size();
  if (S == 0) GTEST_SKIP() << c.entry->name << " carries no fixed-size state";
  Built first = build(*c.entry, c.entry->test_variants[c.variant], 5);
  Built second = build(*c.entry, c.entry->test_variants[c.variant], 5);
  const int T = c.T, t1 = 17, t2 = T - t1;
  Rng rng(13);
  const auto x = random_vector(size_t(kBatch) * T * kWidth, rng), dy = random_vector(x.size(), rng);
  // the halves of x and dy per batch row
  auto slice = [&](const std::vector<real>& v, int t0, int len) {
    std::vector<real> out(size_t(kBatch) * len * kWidth);
    for (int b = 0; b < kBatch; ++b)
      std::copy_n(v.data() + (size_t(b) * T + t0) * kWidth, size_t(len) * kWidth, out.data() + size_t(b) * len * kWidth);
    return out;
  };
  std::vector<real> y(x.size()), state(kBatch * S), dx(x.size());
  full.mixer->forward_stateful(x.data(), y.data(), kBatch, T, nullptr, state.data());
  full.mixer->backward_stateful(dy.data(), nullptr, dx.data(), nullptr);

  const auto x1 = slice(x, 0, t1), x2 = slice(x, t1, t2);
  std::vector<real> y1(x1.size()), y2(x2.size()), mid(kBatch * S), end(kBatch * S);
  first.mixer->forward_stateful(x1.data(), y1.data(), kBatch, t1, nullptr, mid.data());
  second.mixer->forward_stateful(x2.data(), y2.data(), kBatch, t2, mid.data(), end.data());
  EXPECT_LT(relative_rms(y1, slice(y, 0, t1)), 1e-6);
  EXPECT_LT(relative_rms(y2, slice(y, t1, t2)), 1e-5);
  EXPECT_LT(relative_rms(end, state), 1e-5);

  // backward through the split: the second half hands d(mid) to the first
  std::vector<real> dx1(x1.size()), dx2(x2.size()), dmid(kBatch * S);
  second.mixer->backward_stateful(slice(dy, t1, t2).data(), nullptr, dx2.data(), dmid.data());
  first.mixer->backward_stateful(slice(dy, 0, t1).data(), dmid.data(), dx1.data(), nullptr);
  EXPECT_LT(relative_rms(dx1, slice(dx, 0, t1)), 1e-5);
  EXPECT_LT(relative_rms(dx2, slice(dx, t1, t2)), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Registry, SplitRun, ::testing::ValuesIn(split_cases()), case_name);

}  // namespace
}  // namespace db
