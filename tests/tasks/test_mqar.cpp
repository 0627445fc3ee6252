// test_mqar.cpp: structural, statistical and determinism properties of the Zoology MQAR generator
// (tasks/mqar.h; task-protocols.md A.1), checked over many seeds and the Fig. 2 (L, K) settings.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string_view>
#include <unordered_set>

#include "common/rng.h"
#include "tasks/mqar.h"

namespace db {
namespace {

using Overrides = std::map<std::string, OptionValue>;

std::unique_ptr<Task> make_mqar(Overrides o = {}) { return create_task("mqar", o); }

void expect_config_error(const Overrides& o, const std::string& key) {
  try {
    make_mqar(o);
    ADD_FAILURE() << "expected ConfigError for key " << key;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key, key) << e.what();
  }
}

uint64_t hash_tokens(const std::vector<int32_t>& v) {
  return fnv1a64(std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int32_t)));
}

// every property of one example that follows from A.1, for vocabulary V and segment (L, K)
void check_example(const Example& ex, int64_t V, int64_t L, int64_t K, bool random_non_queries) {
  ASSERT_EQ(static_cast<int64_t>(ex.input.size()), L);
  ASSERT_EQ(ex.target.size(), ex.input.size());
  EXPECT_EQ(ex.meta.at("seq_len"), L);
  EXPECT_EQ(ex.meta.at("num_kv_pairs"), K);
  std::map<int32_t, int32_t> value_of;
  std::set<int32_t> values;
  for (int64_t j = 0; j < K; ++j) {
    const int32_t k = ex.input[2 * j], v = ex.input[2 * j + 1];
    EXPECT_GE(k, 1);
    EXPECT_LT(k, V / 2);
    EXPECT_GE(v, V / 2);
    EXPECT_LT(v, V);
    EXPECT_TRUE(value_of.emplace(k, v).second) << "duplicate key " << k;
    EXPECT_TRUE(values.insert(v).second) << "duplicate value " << v;
    EXPECT_EQ(ex.target[2 * j], IGNORE);
    EXPECT_EQ(ex.target[2 * j + 1], IGNORE);
  }
  std::set<int32_t> queried;
  int64_t labelled = 0;
  for (int64_t p = 2 * K; p < L; ++p) {
    if (ex.target[p] == IGNORE) {
      if (!random_non_queries) {
        EXPECT_EQ(ex.input[p], 0) << "filler at " << p;
      }
      EXPECT_GE(ex.input[p], 0);
      EXPECT_LT(ex.input[p], V);
      continue;
    }
    ++labelled;
    EXPECT_EQ((p - 2 * K) % 2, 0) << "query at an odd offset " << p;
    ASSERT_TRUE(value_of.count(ex.input[p])) << "label on a non-key token at " << p;
    EXPECT_EQ(ex.target[p], value_of[ex.input[p]]);
    EXPECT_TRUE(queried.insert(ex.input[p]).second) << "key queried twice";
  }
  EXPECT_EQ(labelled, K);
}

TEST(Mqar, StructureAcrossSettingsAndSeeds) {
  const std::vector<std::pair<int64_t, int64_t>> settings = {{64, 4}, {128, 8}, {256, 16}, {512, 64}, {16, 4}};
  for (bool rnq : {false, true})
    for (auto [L, K] : settings) {
      auto task = make_mqar({{"seq_len", L},
                             {"num_kv_pairs", K},
                             {"random_non_queries", rnq},
                             {"train_examples", int64_t{200}},
                             {"test_examples", int64_t{50}}});
      EXPECT_EQ(task->max_input_length(), L);
      for (uint64_t seed : {1u, 2u, 77u})
        for (Split split : {Split::train, Split::test})
          for (const auto& ex : task->generate(split, seed, 0, task->split_size(split)))
            check_example(ex, 8192, L, K, rnq);
    }
}

TEST(Mqar, RandomNonQueriesDrawsFillersFromWholeVocabulary) {
  auto task = make_mqar({{"vocab_size", int64_t{300}},
                         {"seq_len", int64_t{256}},
                         {"num_kv_pairs", int64_t{8}},
                         {"random_non_queries", true},
                         {"train_examples", int64_t{400}}});
  int64_t fillers = 0, zeros = 0, in_key_half = 0;
  for (const auto& ex : task->generate(Split::train, 5, 0, 400))
    for (int64_t p = 16; p < 256; ++p)
      if (ex.target[p] == IGNORE) {
        ++fillers;
        zeros += ex.input[p] == 0;
        in_key_half += ex.input[p] >= 1 && ex.input[p] < 150;
      }
  // uniform over [0, 300): about 1/300 zeros and half in the key range, so distractors occur
  EXPECT_LT(zeros, fillers / 100);
  EXPECT_NEAR(static_cast<double>(in_key_half) / fillers, 149.0 / 300.0, 0.02);
}

// slot offsets of the queries, in order of the keys in the context (= the sequential draw order)
std::vector<int64_t> query_slots(const Example& ex, int64_t K) {
  std::map<int32_t, int64_t> slot_of_key;
  for (size_t p = 2 * K; p < ex.input.size(); ++p)
    if (ex.target[p] != IGNORE) slot_of_key[ex.input[p]] = (static_cast<int64_t>(p) - 2 * K) / 2;
  std::vector<int64_t> out;
  for (int64_t j = 0; j < K; ++j) out.push_back(slot_of_key.at(ex.input[2 * j]));
  return out;
}

TEST(Mqar, PowerLawFavoursEarlySlots) {
  // K = 1, L = 64: space 31 slots, P(slot 0) = 1 / sum_i i^(a-1) exactly
  const double a = 0.01;
  double norm = 0.0;
  for (int i = 1; i <= 31; ++i) norm += std::pow(i, a - 1.0);
  const double p0 = 1.0 / norm;
  const int64_t n = 20000;
  auto task = make_mqar({{"seq_len", int64_t{64}}, {"num_kv_pairs", int64_t{1}}, {"train_examples", n}});
  int64_t at0 = 0, early = 0;
  for (const auto& ex : task->generate(Split::train, 9, 0, n)) {
    const int64_t slot = query_slots(ex, 1)[0];
    at0 += slot == 0;
    early += slot < 5;
  }
  const double sigma = std::sqrt(p0 * (1 - p0) / n);
  EXPECT_NEAR(static_cast<double>(at0) / n, p0, 5 * sigma);
  double p_early = 0.0;
  for (int i = 1; i <= 5; ++i) p_early += std::pow(i, a - 1.0) / norm;
  EXPECT_NEAR(static_cast<double>(early) / n, p_early, 5 * std::sqrt(p_early * (1 - p_early) / n));

  // K = 16, L = 256 (192 slots): the first draw lands in slot 0 far more often than uniform, and the
  // lower half of the slots holds most queries
  auto task16 = make_mqar({{"train_examples", int64_t{3000}}});
  int64_t first_at0 = 0, lower_half = 0, total = 0;
  for (const auto& ex : task16->generate(Split::train, 3, 0, 3000)) {
    const auto slots = query_slots(ex, 16);
    first_at0 += slots[0] == 0;
    for (int64_t s : slots) lower_half += s < 96, ++total;
  }
  EXPECT_GT(first_at0, 3000 / 10);  // ≈17% expected; uniform would give 0.5%
  EXPECT_GT(static_cast<double>(lower_half) / total, 0.6);
}

TEST(Mqar, PowerAOneIsUniform) {
  auto task = make_mqar(
      {{"seq_len", int64_t{64}}, {"num_kv_pairs", int64_t{1}}, {"power_a", 1.0}, {"train_examples", int64_t{31000}}});
  std::vector<int64_t> counts(31, 0);
  for (const auto& ex : task->generate(Split::train, 4, 0, 31000)) ++counts[query_slots(ex, 1)[0]];
  for (int64_t c : counts) EXPECT_NEAR(c, 1000, 5 * std::sqrt(1000.0));
}

TEST(Mqar, Deterministic) {
  auto task = make_mqar({{"train_examples", int64_t{64}}});
  auto a = task->generate(Split::train, 42, 0, 64);
  auto b = make_mqar({{"train_examples", int64_t{64}}})->generate(Split::train, 42, 0, 64);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].input, b[i].input);
    EXPECT_EQ(a[i].target, b[i].target);
    EXPECT_EQ(a[i].meta, b[i].meta);
  }
  auto c = task->generate(Split::train, 43, 0, 64);
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += a[i].input != c[i].input;
  EXPECT_EQ(differ, 64);
  // one seed for both splits still gives different streams
  auto t = task->generate(Split::test, 42, 0, 64);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NE(a[i].input, t[i].input);
}

TEST(Mqar, RangesConcatenateAcrossSegments) {
  auto task = make_mqar({{"train_segments", std::vector<double>{64, 4, 7, 128, 8, 5, 256, 16, 6}}});
  ASSERT_EQ(task->split_size(Split::train), 18);
  const auto whole = task->generate(Split::train, 11, 0, 18);
  std::vector<Example> pieces;
  for (auto [first, count] : std::vector<std::pair<int64_t, int64_t>>{{0, 3}, {3, 6}, {9, 1}, {10, 0}, {10, 8}}) {
    auto part = task->generate(Split::train, 11, first, count);
    pieces.insert(pieces.end(), part.begin(), part.end());
  }
  ASSERT_EQ(pieces.size(), whole.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(pieces[i].input, whole[i].input) << i;
    EXPECT_EQ(pieces[i].target, whole[i].target) << i;
  }
  EXPECT_THROW(task->generate(Split::train, 11, 10, 9), std::out_of_range);
}

TEST(Mqar, SegmentsMixLengthsInOrder) {
  auto task = make_mqar({{"train_segments", std::vector<double>{64, 4, 30, 128, 8, 20}},
                         {"test_segments", std::vector<double>{64, 4, 5, 1024, 256, 5}}});
  EXPECT_EQ(task->split_size(Split::train), 50);
  EXPECT_EQ(task->split_size(Split::test), 10);
  EXPECT_EQ(task->max_input_length(), 1024);
  const auto train = task->generate(Split::train, 1, 0, 50);
  for (int i = 0; i < 50; ++i) check_example(train[i], 8192, i < 30 ? 64 : 128, i < 30 ? 4 : 8, false);
  const auto test = task->generate(Split::test, 1, 0, 10);
  for (int i = 0; i < 10; ++i) check_example(test[i], 8192, i < 5 ? 64 : 1024, i < 5 ? 4 : 256, false);
  // the single-segment options no longer matter once both lists are given
  EXPECT_NO_THROW(make_mqar({{"train_segments", std::vector<double>{64, 4, 1}},
                             {"test_segments", std::vector<double>{64, 4, 1}},
                             {"num_kv_pairs", int64_t{1000}}}));
}

TEST(Mqar, SegmentsOfOneShapeDrawDifferentExamples) {
  auto task = make_mqar({{"train_segments", std::vector<double>{64, 4, 10, 64, 4, 10}}});
  const auto ex = task->generate(Split::train, 1, 0, 20);
  for (int i = 0; i < 10; ++i) EXPECT_NE(ex[i].input, ex[i + 10].input);
}

TEST(Mqar, NoTestExampleRepeatsATrainExampleAtDefaultSize) {
  auto task = make_mqar();
  ASSERT_EQ(task->split_size(Split::train), 100000);
  ASSERT_EQ(task->split_size(Split::test), 3000);
  const uint64_t base = 123;
  std::unordered_set<uint64_t> train_hashes;
  for (int64_t first = 0; first < 100000; first += 10000)
    for (const auto& ex : task->generate(Split::train, split_seed(base, Split::train), first, 10000))
      train_hashes.insert(hash_tokens(ex.input));
  EXPECT_EQ(train_hashes.size(), 100000u);  // no duplicates within train either
  for (const auto& ex : task->generate(Split::test, split_seed(base, Split::test), 0, 3000))
    EXPECT_EQ(train_hashes.count(hash_tokens(ex.input)), 0u);
}

TEST(Mqar, DescribeShowsPairsAndQueries) {
  auto task = make_mqar({{"seq_len", int64_t{16}}, {"num_kv_pairs", int64_t{2}}});
  const auto ex = task->generate(Split::test, 1, 0, 1)[0];
  const std::string text = task->describe(ex);
  EXPECT_NE(text.find(fmt::format("{}->{}", ex.input[0], ex.input[1])), std::string::npos) << text;
  EXPECT_NE(text.find("queries"), std::string::npos);
  for (size_t p = 0; p < ex.target.size(); ++p)
    if (ex.target[p] != IGNORE) {
      EXPECT_NE(text.find(fmt::format("{}: {} -> {}", p, ex.input[p], ex.target[p])), std::string::npos) << text;
    }
}

TEST(Mqar, ValidationNamesTheKey) {
  expect_config_error({{"num_kv_pairs", int64_t{65}}}, "num_kv_pairs");
  expect_config_error({{"num_kv_pairs", int64_t{0}}}, "num_kv_pairs");
  expect_config_error({{"seq_len", int64_t{255}}}, "seq_len");
  expect_config_error({{"seq_len", int64_t{0}}}, "seq_len");
  expect_config_error({{"vocab_size", int64_t{256}}}, "vocab_size");
  expect_config_error({{"vocab_size", int64_t{2}}}, "vocab_size");
  expect_config_error({{"power_a", 0.0}}, "power_a");
  expect_config_error({{"power_a", -0.5}}, "power_a");
  expect_config_error({{"train_examples", int64_t{-1}}}, "train_examples");
  expect_config_error({{"test_examples", int64_t{-1}}}, "test_examples");
  expect_config_error({{"train_segments", std::vector<double>{64, 4}}}, "train_segments");
  expect_config_error({{"train_segments", std::vector<double>{64, 17, 10}}}, "train_segments");
  expect_config_error({{"train_segments", std::vector<double>{64, 4, 0}}}, "train_segments");
  expect_config_error({{"train_segments", std::vector<double>{64.5, 4, 10}}}, "train_segments");
  expect_config_error({{"test_segments", std::vector<double>{63, 4, 10}}}, "test_segments");
  expect_config_error({{"test_segments", std::vector<double>{16384, 8, 10}}}, "test_segments");
  expect_config_error({{"seq_len", std::string("long")}}, "seq_len");
  expect_config_error({{"num_kv_pair", int64_t{4}}}, "num_kv_pair");
}

}  // namespace
}  // namespace db
