// test_gradcheck.cpp: finite-difference gradient checks of every registered layer and mixer (double).
//
// The cases come from module_registry() and mixer_registry() (each mixer times each of its
// test_variants, B=2, T=7 so chunked mixers end on a partial chunk); a new entry is covered with no
// edit here. Each case is one test named after the entry and variant, and a failure prints the
// report table naming the tensor. The embedding (integer input) is checked directly.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>

#include "models/core/gradcheck.h"
#include "models/core/registry.h"
#include "tests/common/gradcheck_wrappers.h"
#include "models/layers/embedding.h"
#include "models/layers/position_embedding.h"

namespace db {
namespace {

constexpr double kTolerance = 1e-6;
// per-entry tolerances where the default is known to be too tight (none so far)
const std::map<std::string, double> kToleranceOverrides = {};

double tolerance_for(const std::string& name) {
  auto it = kToleranceOverrides.find(name);
  return it == kToleranceOverrides.end() ? kTolerance : it->second;
}

// a GoogleTest-safe name: '-' -> 'm', '.' -> 'p', other punctuation -> '_', runs of '_' collapsed
std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) {
    const char m = std::isalnum(static_cast<unsigned char>(c)) ? c : c == '-' ? 'm' : c == '.' ? 'p' : '_';
    if (m == '_' && (out.empty() || out.back() == '_')) continue;
    out += m;
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

// DELTABENCH_GRADCHECK_VERBOSE=1 prints every report, passing or not
void expect_report_ok(const GradCheckReport& report, double tol) {
  SCOPED_TRACE(report.subject);
  if (std::getenv("DELTABENCH_GRADCHECK_VERBOSE")) std::cout << report.to_string();
  EXPECT_FALSE(report.tensors.empty());
  for (const auto& t : report.tensors) {
    SCOPED_TRACE("tensor " + t.name);
    EXPECT_GT(t.checked, 0);
    EXPECT_LT(t.error, tol) << report.to_string();
  }
  for (const auto& v : report.violations) ADD_FAILURE() << "contract: " << v << "\n" << report.to_string();
}

// ---- layers ----

struct ModuleCase {
  const ModuleEntry* entry;
};

std::vector<ModuleCase> module_cases() {
  std::vector<ModuleCase> cases;
  for (const auto* e : module_registry()) cases.push_back({e});
  for (const auto* e : test::wrapper_module_entries()) cases.push_back({e});
  return cases;
}

void PrintTo(const ModuleCase& c, std::ostream* os) { *os << c.entry->name; }

class ModuleGradCheck : public ::testing::TestWithParam<ModuleCase> {};

TEST_P(ModuleGradCheck, MatchesFiniteDifferences) {
  const ModuleEntry& e = *GetParam().entry;
  const GradCheckReport report = gradcheck_module_entry(e);
  expect_report_ok(report, tolerance_for(e.name));
}

INSTANTIATE_TEST_SUITE_P(Layers, ModuleGradCheck, ::testing::ValuesIn(module_cases()),
                         [](const ::testing::TestParamInfo<ModuleCase>& info) {
                           return sanitize(info.param.entry->name);
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ModuleGradCheck);

// ---- mixers ----

struct MixerCase {
  const MixerEntry* entry;
  size_t variant;
};

std::vector<MixerCase> mixer_cases() {
  std::vector<MixerCase> cases;
  for (const auto* e : mixer_registry())
    for (size_t v = 0; v < e->test_variants.size(); ++v) cases.push_back({e, v});
  return cases;
}

void PrintTo(const MixerCase& c, std::ostream* os) {
  *os << describe_variant(c.entry->name, c.entry->test_variants[c.variant]);
}

class MixerGradCheck : public ::testing::TestWithParam<MixerCase> {};

TEST_P(MixerGradCheck, MatchesFiniteDifferences) {
  const MixerEntry& e = *GetParam().entry;
  const OptionOverrides& variant = e.test_variants[GetParam().variant];
  GradCheckOptions opt;
  opt.B = 2;
  opt.T = 7;
  const GradCheckReport report = gradcheck_mixer_entry(e, variant, opt);
  expect_report_ok(report, tolerance_for(e.name));
}

INSTANTIATE_TEST_SUITE_P(Mixers, MixerGradCheck, ::testing::ValuesIn(mixer_cases()),
                         [](const ::testing::TestParamInfo<MixerCase>& info) {
                           // the variant index keeps names unique even if two variants sanitize alike
                           const auto& e = *info.param.entry;
                           std::string name = e.name + "_v" + std::to_string(info.param.variant);
                           for (const auto& [k, v] : e.test_variants[info.param.variant])
                             name += "_" + k + "_" + option_to_string(v);
                           return sanitize(name);
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MixerGradCheck);

TEST(Registry, EveryMixerHasTestVariants) {
  for (const auto* e : mixer_registry()) EXPECT_FALSE(e->test_variants.empty()) << e->name << " has no test_variants";
}

TEST(Registry, NamesAreUnique) {
  std::set<std::string> modules, mixers;
  for (const auto* e : module_registry()) EXPECT_TRUE(modules.insert(e->name).second) << e->name;
  for (const auto* e : test::wrapper_module_entries()) EXPECT_TRUE(modules.insert(e->name).second) << e->name;
  for (const auto* e : mixer_registry()) EXPECT_TRUE(mixers.insert(e->name).second) << e->name;
}

// ---- the checker itself ----

// a module with a deliberately wrong weight gradient must be caught, and the report must name it
class BrokenScale : public Module {
 public:
  explicit BrokenScale(ParamArena& a) { w = a.add("broken.weight", {3}, ParamInit::ones()); }
  int in_dim() const override { return 3; }
  int out_dim() const override { return 3; }
  void forward(const real* x, real* y, int B, int T) override {
    n_ = B * T;
    x_.assign(x, x + 3 * n_);
    for (int r = 0; r < n_; ++r)
      for (int j = 0; j < 3; ++j) y[3 * r + j] = x[3 * r + j] * w.data()[j];
  }
  void backward(const real* dy, real* dx) override {
    for (int r = 0; r < n_; ++r)
      for (int j = 0; j < 3; ++j) {
        dx[3 * r + j] = dy[3 * r + j] * w.data()[j];
        w.grad()[j] += real(1.01) * dy[3 * r + j] * x_[3 * r + j];  // 1% off
      }
  }
  Param w;

 protected:
  int n_ = 0;
  std::vector<real> x_;
};

TEST(GradCheck, CatchesAWrongParameterGradient) {
  ParamArena arena;
  BrokenScale m(arena);
  const GradCheckReport r = gradcheck(m, arena, {}, "broken");
  ASSERT_EQ(r.tensors.size(), 2u);
  EXPECT_EQ(r.tensors[0].name, "x");
  EXPECT_LT(r.tensors[0].error, kTolerance);
  EXPECT_EQ(r.tensors[1].name, "broken.weight");
  EXPECT_GT(r.tensors[1].error, 1e-3);
  EXPECT_TRUE(r.violations.empty());
}

// a backward that accumulates into dx instead of overwriting it breaks the contract
class AccumulatingDx : public BrokenScale {
 public:
  using BrokenScale::BrokenScale;
  void backward(const real* dy, real* dx) override {
    for (int r = 0; r < n_; ++r)
      for (int j = 0; j < 3; ++j) dx[3 * r + j] += dy[3 * r + j] * w.data()[j];
  }
};

TEST(GradCheck, FlagsDxNotOverwritten) {
  ParamArena arena;
  AccumulatingDx m(arena);
  const GradCheckReport r = gradcheck(m, arena, {}, "accumulating");
  EXPECT_FALSE(r.violations.empty());
}

// ---- embeddings (integer input: checked directly) ----

TEST(EmbeddingGrad, ScatterAddsRowsOfRepeatedIds) {
  ParamArena arena;
  Embedding emb(arena, "embeddings", 5, 3);
  Rng rng(3);
  arena.initialize(rng);
  const int B = 2, T = 4;
  const std::vector<int32_t> ids = {0, 3, 3, 1, 4, 3, 0, 2};  // [B,T], id 3 three times
  std::vector<real> y(B * T * 3), dy(B * T * 3);
  emb.forward(ids.data(), y.data(), B, T);
  for (int r = 0; r < B * T; ++r)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(y[r * 3 + c], emb.weight.data()[ids[r] * 3 + c]);
  for (auto& v : dy) v = static_cast<real>(rng.normal());
  arena.zero_grad();
  emb.backward(dy.data());
  // L = sum(y*dy) is linear in the table, so dL/dW[n,c] = sum over tokens with id n of dy: check
  // against central differences on every entry
  for (int n = 0; n < 5; ++n)
    for (int c = 0; c < 3; ++c) {
      real* w = emb.weight.data() + n * 3 + c;
      const real v = *w;
      auto loss = [&]() {
        emb.forward(ids.data(), y.data(), B, T);
        double L = 0;
        for (size_t i = 0; i < y.size(); ++i) L += y[i] * dy[i];
        return L;
      };
      *w = v + 1e-5;
      const double lp = loss();
      *w = v - 1e-5;
      const double lm = loss();
      *w = v;
      EXPECT_NEAR(emb.weight.grad()[n * 3 + c], (lp - lm) / 2e-5, 1e-8) << "row " << n << " col " << c;
    }
  // backward adds
  emb.forward(ids.data(), y.data(), B, T);
  const std::vector<real> g1(emb.weight.grad(), emb.weight.grad() + 15);
  emb.backward(dy.data());
  for (int i = 0; i < 15; ++i) EXPECT_DOUBLE_EQ(emb.weight.grad()[i], 2 * g1[i]);
}

TEST(EmbeddingGrad, RejectsOutOfRangeIds) {
  ParamArena arena;
  Embedding emb(arena, "embeddings", 5, 3);
  arena.allocate();
  const std::vector<int32_t> ids = {0, 5};
  std::vector<real> y(6);
  EXPECT_THROW(emb.forward(ids.data(), y.data(), 1, 2), std::out_of_range);
}

TEST(PositionEmbeddingGrad, MatchesFiniteDifferencesWithOffset) {
  ParamArena arena;
  PositionEmbedding pe(arena, "wpe", 12, 4);
  Rng rng(5);
  arena.initialize(rng);
  const int B = 3, T = 5, t0 = 6;
  std::vector<real> x(B * T * 4), y(x.size()), dy(x.size()), dx(x.size());
  for (auto& v : x) v = static_cast<real>(rng.normal());
  for (auto& v : dy) v = static_cast<real>(rng.normal());
  pe.forward_at(x.data(), y.data(), B, T, t0);
  arena.zero_grad();
  pe.backward(dy.data(), dx.data());
  for (size_t i = 0; i < dx.size(); ++i) EXPECT_EQ(dx[i], dy[i]);
  for (int t = 0; t < 12; ++t)
    for (int c = 0; c < 4; ++c) {
      real* w = pe.weight.data() + t * 4 + c;
      const real v = *w;
      auto loss = [&]() {
        pe.forward_at(x.data(), y.data(), B, T, t0);
        double L = 0;
        for (size_t i = 0; i < y.size(); ++i) L += y[i] * dy[i];
        return L;
      };
      *w = v + 1e-5;
      const double lp = loss();
      *w = v - 1e-5;
      const double lm = loss();
      *w = v;
      // rows outside [t0, t0+T) are untouched: gradient exactly 0
      EXPECT_NEAR(pe.weight.grad()[t * 4 + c], (lp - lm) / 2e-5, 1e-8) << "position " << t << " col " << c;
    }
  EXPECT_THROW(pe.forward_at(x.data(), y.data(), B, T, 8), std::out_of_range);
}

}  // namespace
}  // namespace db
