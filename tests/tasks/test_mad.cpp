// test_mad.cpp: the six MAD generators (tasks/mad/; task-protocols.md B.2, mad-lab
// mad/data/instances.py): target conventions per split, vocabulary layout, noise handling, motif
// lengths, the fixed memorization map, determinism and option validation.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tasks/task.h"

namespace db {
namespace {

using Overrides = std::map<std::string, OptionValue>;

void expect_config_error(const std::string& task, const Overrides& o, const std::string& key) {
  try {
    create_task(task, o);
    ADD_FAILURE() << task << ": expected ConfigError for key " << key;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key, key) << task << ": " << e.what();
  }
}

std::vector<Example> examples(const Task& task, Split split, uint64_t seed, int64_t n) {
  return task.generate(split, seed, 0, std::min(n, task.split_size(split)));
}

// ---------------------------------------------------------------- in-context recall (plain, noisy)

// checks one recall example; V = vocabulary, C = V - noise (keys [0, C/2), values [C/2, C))
void check_recall(const Example& ex, Split split, int64_t seq_len, int64_t V, int64_t noise) {
  const int64_t C = V - noise, half = C / 2;
  ASSERT_EQ(static_cast<int64_t>(ex.input.size()), seq_len - 1);
  ASSERT_EQ(ex.target.size(), ex.input.size());
  // the full token row is the input plus the last train/test target (the probe value)
  std::vector<int32_t> row = ex.input;
  row.push_back(ex.target.back());
  ASSERT_NE(ex.target.back(), IGNORE);
  std::map<int32_t, int32_t> value_of;
  for (int64_t p = 0; p < seq_len; p += 2) {
    const int32_t a = row[p], b = row[p + 1];
    const bool is_noise = a >= C;
    if (is_noise) {
      EXPECT_GE(b, C) << "noise comes in whole pairs";
      EXPECT_LT(a, V);
      EXPECT_LT(b, V);
      if (split == Split::test) {
        EXPECT_EQ(ex.target[p], IGNORE);
        if (p + 1 < seq_len - 1) {
          EXPECT_EQ(ex.target[p + 1], IGNORE);
        }
      }
      continue;
    }
    EXPECT_GE(a, 0);
    EXPECT_LT(a, half);
    EXPECT_GE(b, half);
    EXPECT_LT(b, C);
    const bool seen = value_of.count(a);
    if (seen) {
      EXPECT_EQ(value_of[a], b) << "a key keeps its value within a sequence";
    }
    value_of[a] = b;
    if (split == Split::test) {
      // the value is scored at the key position after the shift, iff the key was shown before
      const bool last = p == seq_len - 2;
      EXPECT_EQ(ex.target[p], seen || last ? b : IGNORE) << "position " << p;
      if (last) {
        EXPECT_TRUE(seen) << "the probe key was presented earlier";
      }
      if (p + 1 < seq_len - 1) {
        EXPECT_EQ(ex.target[p + 1], IGNORE);
      }
    }
  }
  if (split == Split::train)
    for (size_t i = 0; i + 1 < ex.input.size(); ++i) {
      EXPECT_EQ(ex.target[i], ex.input[i + 1]);
    }
}

TEST(MadInContextRecall, TargetsFollowTheSplitConventions) {
  for (int64_t V : {16, 32, 128})
    for (int64_t L : {8, 128, 256}) {
      auto task = create_task("in_context_recall", {{"vocab_size", V}, {"seq_len", L}});
      EXPECT_EQ(task->max_input_length(), L - 1);
      for (Split split : {Split::train, Split::test})
        for (const auto& ex : examples(*task, split, 3, 300)) check_recall(ex, split, L, V, 0);
    }
}

TEST(MadInContextRecall, TestSetScoresRepeatedKeysOnly) {
  auto task = create_task("in_context_recall", {});
  int64_t labelled = 0;
  for (const auto& ex : examples(*task, Split::test, 1, 100))
    for (int32_t t : ex.target) labelled += t != IGNORE;
  // 63 pairs over 8 keys: all but the first sighting of each key are scored, plus the probe
  EXPECT_GT(labelled, 100 * 50);
  EXPECT_LT(labelled, 100 * 60);
}

TEST(MadNoisyInContextRecall, NoiseIsNeverATarget) {
  for (double frac : {0.2, 0.8})
    for (int64_t V : {32, 48}) {
      auto task = create_task("noisy_in_context_recall", {{"vocab_size", V}, {"frac_noise", frac}});
      int64_t noise_pairs = 0, pairs = 0;
      for (Split split : {Split::train, Split::test})
        for (const auto& ex : examples(*task, split, 7, 400)) {
          check_recall(ex, split, 128, V, 16);
          if (split == Split::train) continue;
          for (size_t p = 0; p < ex.target.size(); ++p)
            if (ex.target[p] != IGNORE) {
              EXPECT_LT(ex.input[p], V - 16) << "labelled noise token";
              EXPECT_LT(ex.target[p], V - 16) << "noise token as a target";
            }
          for (size_t p = 0; p + 2 < ex.input.size(); p += 2) {
            noise_pairs += ex.input[p] >= V - 16;
            ++pairs;
          }
        }
      // 63 slots, one protected: expected share frac * 62/63
      EXPECT_NEAR(static_cast<double>(noise_pairs) / pairs, frac * 62.0 / 63.0, 0.02) << frac;
    }
}

// ---------------------------------------------------------------- fuzzy in-context recall

struct Motif {
  int64_t start;
  std::vector<int32_t> tokens;
};

// split a padded row into alternating key and value motifs (key tokens < half <= value tokens)
void parse_fuzzy(const std::vector<int32_t>& row, int32_t pad, int32_t half, std::vector<Motif>& keys,
                 std::vector<Motif>& values) {
  size_t p = 0;
  while (p < row.size() && row[p] == pad) ++p;
  while (p < row.size()) {
    Motif k{static_cast<int64_t>(p), {}}, v{0, {}};
    while (p < row.size() && row[p] < half) k.tokens.push_back(row[p++]);
    v.start = static_cast<int64_t>(p);
    while (p < row.size() && row[p] >= half && row[p] != pad) v.tokens.push_back(row[p++]);
    ASSERT_FALSE(k.tokens.empty());
    ASSERT_FALSE(v.tokens.empty());
    keys.push_back(k);
    values.push_back(v);
  }
}

TEST(MadFuzzyInContextRecall, MotifsTargetsAndPadding) {
  const int64_t V = 16, L = 128;
  const int32_t pad = V - 1, half = (V - 1) / 2;
  auto task = create_task("fuzzy_in_context_recall", {});
  EXPECT_EQ(task->pad_token(), pad);
  EXPECT_EQ(task->max_input_length(), L);
  std::set<size_t> train_key_lengths;
  int64_t planted = 0, n_test = 0;
  for (Split split : {Split::train, Split::test})
    for (const auto& ex : examples(*task, split, 5, 400)) {
      ASSERT_EQ(static_cast<int64_t>(ex.input.size()), L);
      ASSERT_EQ(ex.target.size(), ex.input.size());
      ASSERT_NE(ex.target.back(), IGNORE);
      std::vector<int32_t> row = ex.input;
      row.push_back(ex.target.back());
      // left padding only: once a real token appears, no pad follows
      size_t first_real = 0;
      while (row[first_real] == pad) ++first_real;
      EXPECT_GT(first_real, 0u) << "the generator always leaves room for padding";
      for (size_t p = first_real; p < row.size(); ++p) {
        EXPECT_NE(row[p], pad);
      }
      std::vector<Motif> keys, values;
      parse_fuzzy(row, pad, half, keys, values);
      std::map<std::vector<int32_t>, std::vector<int32_t>> value_of;
      for (size_t i = 0; i < keys.size(); ++i) {
        const auto& k = keys[i].tokens;
        const auto& v = values[i].tokens;
        EXPECT_LE(k.size(), 3u);
        EXPECT_LE(v.size(), 3u);
        EXPECT_EQ(std::set<int32_t>(k.begin(), k.end()).size(), k.size()) << "key tokens are distinct";
        EXPECT_EQ(std::set<int32_t>(v.begin(), v.end()).size(), v.size()) << "value tokens are distinct";
        if (split == Split::test)
          EXPECT_EQ(k.size(), 3u) << "test keys always have k_motif_size tokens";
        else
          train_key_lengths.insert(k.size());
        const bool last = i + 1 == keys.size();
        const bool seen = value_of.count(k);
        if (seen) {
          EXPECT_EQ(value_of[k], v) << "a key keeps its value";
        }
        if (last && split == Split::test) {
          ++n_test;
          planted += seen;
          EXPECT_EQ(ex.meta.at("probe_in_context"), seen ? 1 : 0);
        }
        value_of[k] = v;
        if (split == Split::test) {
          // value tokens at row positions s..s+|v|-1 are scored at s-1..s+|v|-2 after the shift
          for (size_t t = 0; t < v.size(); ++t)
            EXPECT_EQ(ex.target[values[i].start - 1 + t], seen || last ? v[t] : IGNORE);
          for (size_t t = 0; t + 1 < k.size(); ++t) {
            EXPECT_EQ(ex.target[keys[i].start + t], IGNORE);
          }
        }
      }
      if (split == Split::train)
        for (size_t i = 0; i + 1 < ex.input.size(); ++i) {
          EXPECT_EQ(ex.target[i], ex.input[i + 1]);
        }
    }
  EXPECT_EQ(train_key_lengths, (std::set<size_t>{1, 2, 3}));
  // most probes were planted earlier (mad-lab leaves a few percent unplanted)
  EXPECT_GT(planted, n_test * 8 / 10);
}

// ---------------------------------------------------------------- selective copying

TEST(MadSelectiveCopying, TargetsAreTheDataTokensInOrder) {
  for (auto [V, L, n] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{16, 256, 16}, {64, 512, 96}, {3, 8, 3}}) {
    auto task = create_task("selective_copying", {{"vocab_size", V}, {"seq_len", L}, {"num_tokens_to_copy", n}});
    const int32_t copy = V - 1, blank = V - 2;
    for (Split split : {Split::train, Split::test})
      for (const auto& ex : examples(*task, split, 2, 200)) {
        ASSERT_EQ(static_cast<int64_t>(ex.input.size()), L);
        ASSERT_EQ(ex.target.size(), ex.input.size());
        EXPECT_EQ(ex.input[L - n - 1], copy);
        std::vector<int32_t> data;
        for (int64_t p = 0; p < L - n - 1; ++p) {
          EXPECT_NE(ex.input[p], copy);
          if (ex.input[p] != blank) data.push_back(ex.input[p]);
          EXPECT_EQ(ex.target[p], IGNORE);
        }
        EXPECT_NE(ex.input[L - n - 2], blank) << "no blank after the last data token";
        ASSERT_EQ(static_cast<int64_t>(data.size()), n);
        EXPECT_EQ(ex.target[L - n - 1], IGNORE);
        for (int64_t i = 0; i < n; ++i) {
          EXPECT_EQ(ex.input[L - n + i], blank);
          EXPECT_EQ(ex.target[L - n + i], data[i]);
        }
      }
  }
}

// ---------------------------------------------------------------- compression

TEST(MadCompression, TargetEqualsInput) {
  auto task = create_task("compression", {{"vocab_size", int64_t{32}}, {"seq_len", int64_t{64}}});
  std::set<int32_t> seen;
  for (Split split : {Split::train, Split::test})
    for (const auto& ex : examples(*task, split, 4, 200)) {
      ASSERT_EQ(ex.input.size(), 64u);
      EXPECT_EQ(ex.target, ex.input);
      EXPECT_EQ(ex.input.back(), 31);
      for (size_t p = 0; p + 1 < ex.input.size(); ++p) {
        EXPECT_LT(ex.input[p], 31);
        seen.insert(ex.input[p]);
      }
    }
  EXPECT_EQ(seen.size(), 31u);
}

// ---------------------------------------------------------------- memorization

// the key->value map observed in a set of examples, checking layout and consistency on the way
void collect_memorization_map(const std::vector<Example>& exs, int64_t V, std::map<int32_t, int32_t>& map) {
  const int32_t insert = V - 1, half = (V - 1) / 2;
  for (const auto& ex : exs) {
    ASSERT_EQ(ex.input.size(), ex.target.size());
    for (size_t p = 0; p < ex.input.size(); p += 2) {
      const int32_t k = ex.input[p];
      EXPECT_GE(k, 0);
      EXPECT_LT(k, half);
      EXPECT_EQ(ex.input[p + 1], insert);
      EXPECT_EQ(ex.target[p], IGNORE);
      const int32_t v = ex.target[p + 1];
      EXPECT_GE(v, half);
      EXPECT_LT(v, V - 1);
      auto [it, fresh] = map.emplace(k, v);
      EXPECT_EQ(it->second, v) << "key " << k << " changed value";
    }
  }
}

TEST(MadMemorization, MapIsFixedAcrossExamplesSplitsAndSeeds) {
  auto task = create_task("memorization", {});
  EXPECT_EQ(task->split_size(Split::train), 256);
  EXPECT_EQ(task->split_size(Split::test), 1280);
  std::map<int32_t, int32_t> map;
  collect_memorization_map(examples(*task, Split::train, 1, 256), 256, map);
  collect_memorization_map(examples(*task, Split::test, 1, 1280), 256, map);
  collect_memorization_map(examples(*create_task("memorization", {}), Split::test, 99, 1280), 256, map);
  // all 127 keys occur, and distinct keys have distinct values
  EXPECT_EQ(map.size(), 127u);
  std::set<int32_t> values;
  for (auto [k, v] : map) values.insert(v);
  EXPECT_EQ(values.size(), map.size());

  std::map<int32_t, int32_t> other;
  collect_memorization_map(examples(*create_task("memorization", {{"map_seed", int64_t{7}}}), Split::train, 1, 256),
                           256, other);
  int differ = 0;
  for (auto [k, v] : other) differ += map.at(k) != v;
  EXPECT_GT(differ, 50) << "map_seed chooses the map";
}

// ---------------------------------------------------------------- shared properties

const std::vector<std::string> kMadTasks = {
    "in_context_recall", "noisy_in_context_recall", "fuzzy_in_context_recall", "selective_copying", "compression",
    "memorization"};

TEST(Mad, DefaultsFollowMadLab) {
  struct Expect {
    int64_t vocab, seq_len, train;
  };
  const std::map<std::string, Expect> baseline = {{"in_context_recall", {16, 128, 12800}},
                                                  {"noisy_in_context_recall", {32, 128, 12800}},
                                                  {"fuzzy_in_context_recall", {16, 128, 12800}},
                                                  {"selective_copying", {16, 256, 12800}},
                                                  {"compression", {16, 32, 12800}},
                                                  {"memorization", {256, 32, 256}}};
  for (const auto& name : kMadTasks) {
    auto task = create_task(name, {});
    EXPECT_EQ(task->vocab_size(), baseline.at(name).vocab) << name;
    EXPECT_EQ(task->split_size(Split::train), baseline.at(name).train) << name;
    EXPECT_EQ(task->split_size(Split::test), 1280) << name;
    EXPECT_EQ(task->metric(), MetricKind::macro_accuracy) << name;
    EXPECT_FALSE(task->fresh_train_data()) << name;
    const auto ex = task->generate(Split::test, 1, 0, 1)[0];
    EXPECT_EQ(ex.meta.at("seq_len"), baseline.at(name).seq_len) << name;
  }
}

TEST(Mad, DeterministicAndRangeIndependent) {
  for (const auto& name : kMadTasks) {
    auto task = create_task(name, {});
    for (Split split : {Split::train, Split::test}) {
      const auto whole = task->generate(split, 21, 0, 12);
      const auto again = create_task(name, {})->generate(split, 21, 0, 12);
      auto tail = task->generate(split, 21, 5, 7);
      auto head = task->generate(split, 21, 0, 5);
      head.insert(head.end(), tail.begin(), tail.end());
      const auto other = task->generate(split, 22, 0, 12);
      int differ = 0;
      for (size_t i = 0; i < whole.size(); ++i) {
        EXPECT_EQ(whole[i].input, again[i].input) << name;
        EXPECT_EQ(whole[i].target, again[i].target) << name;
        EXPECT_EQ(whole[i].input, head[i].input) << name;
        EXPECT_EQ(whole[i].target, head[i].target) << name;
        differ += whole[i].input != other[i].input;
      }
      EXPECT_GE(differ, 11) << name;
    }
    const auto train = task->generate(Split::train, 21, 0, 4);
    const auto test = task->generate(Split::test, 21, 0, 4);
    for (size_t i = 0; i < train.size(); ++i) {
      EXPECT_NE(train[i].input, test[i].input) << name;
    }
  }
}

TEST(Mad, ValidationNamesTheKey) {
  for (const auto& name : kMadTasks) {
    expect_config_error(name, {{"seq_len", int64_t{1}}}, "seq_len");
    expect_config_error(name, {{"vocab_size", int64_t{1}}}, "vocab_size");
    expect_config_error(name, {{"num_train_examples", int64_t{-1}}}, "num_train_examples");
    expect_config_error(name, {{"num_test_examples", int64_t{-5}}}, "num_test_examples");
    expect_config_error(name, {{"vocab_sise", int64_t{16}}}, "vocab_sise");
  }
  for (const std::string name : {"in_context_recall", "noisy_in_context_recall", "fuzzy_in_context_recall"}) {
    expect_config_error(name, {{"frac_noise", 1.0}}, "frac_noise");
    expect_config_error(name, {{"frac_noise", -0.1}}, "frac_noise");
    expect_config_error(name, {{"frac_noise", 0.3}, {"noise_vocab_size", int64_t{0}}}, "noise_vocab_size");
    expect_config_error(name, {{"noise_vocab_size", int64_t{-1}}}, "noise_vocab_size");
  }
  expect_config_error("in_context_recall", {{"seq_len", int64_t{127}}}, "seq_len");
  expect_config_error("in_context_recall", {{"noise_vocab_size", int64_t{15}}}, "noise_vocab_size");
  expect_config_error("noisy_in_context_recall", {{"noise_vocab_size", int64_t{31}}}, "noise_vocab_size");
  expect_config_error("noisy_in_context_recall", {{"vocab_size", int64_t{16}}}, "noise_vocab_size");
  expect_config_error("fuzzy_in_context_recall", {{"k_motif_size", int64_t{0}}}, "k_motif_size");
  expect_config_error("fuzzy_in_context_recall", {{"v_motif_size", int64_t{0}}}, "v_motif_size");
  expect_config_error("fuzzy_in_context_recall", {{"vocab_size", int64_t{6}}}, "k_motif_size");
  expect_config_error("fuzzy_in_context_recall", {{"v_motif_size", int64_t{9}}}, "v_motif_size");
  expect_config_error("fuzzy_in_context_recall", {{"seq_len", int64_t{12}}}, "seq_len");
  expect_config_error("fuzzy_in_context_recall", {{"noise_vocab_size", int64_t{10}}, {"frac_noise", 0.1}},
                      "k_motif_size");
  expect_config_error("selective_copying", {{"seq_len", int64_t{33}}}, "seq_len");
  expect_config_error("selective_copying", {{"num_tokens_to_copy", int64_t{0}}}, "num_tokens_to_copy");
  expect_config_error("selective_copying", {{"vocab_size", int64_t{2}}}, "vocab_size");
  expect_config_error("memorization", {{"seq_len", int64_t{31}}}, "seq_len");
  expect_config_error("memorization", {{"vocab_size", int64_t{2}}}, "vocab_size");
  expect_config_error("memorization", {{"map_seed", int64_t{-1}}}, "map_seed");
  // the edges that are still valid
  EXPECT_NO_THROW(create_task("fuzzy_in_context_recall", {{"seq_len", int64_t{13}}}));
  EXPECT_NO_THROW(create_task("selective_copying", {{"seq_len", int64_t{34}}}));
  EXPECT_NO_THROW(create_task("in_context_recall", {{"vocab_size", int64_t{2}}, {"seq_len", int64_t{4}}}));
}

TEST(Mad, NoisyFuzzyRecallKeepsNoiseUnlabelled) {
  auto task = create_task("fuzzy_in_context_recall",
                          {{"vocab_size", int64_t{32}}, {"noise_vocab_size", int64_t{8}}, {"frac_noise", 0.3}});
  const int32_t noise_lo = 32 - 1 - 8;
  int64_t noise_tokens = 0;
  for (const auto& ex : examples(*task, Split::test, 3, 200))
    for (size_t p = 0; p < ex.input.size(); ++p) {
      const bool noise = ex.input[p] >= noise_lo && ex.input[p] < 31;
      noise_tokens += noise;
      if (ex.target[p] != IGNORE) {
        EXPECT_TRUE(ex.target[p] < noise_lo);
      }
    }
  EXPECT_GT(noise_tokens, 0);
}

}  // namespace
}  // namespace db
