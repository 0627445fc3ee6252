// test_word_problem.cpp: tests of the group word-problem task (DeltaProduct / Grazzi et al. §5.2;
// task-protocols.md sections C.6 and D, after automl/DeltaProduct src/generate_data.py).
//
// The test keeps its own model of the groups: it lists S_n with std::next_permutation (the
// documented lexicographic order), keeps the even permutations for A_n by counting cycles, and
// composes permutations as plain arrays ("first a, then b": c[i] = b[a[i]]). Targets, the element
// order, closure and the group sizes are checked against that model; duplicates, split
// disjointness, determinism and validation errors are checked too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "tasks/state_tracking/permutation_group.h"
#include "tasks/task.h"

namespace db {
namespace {

using Overrides = std::map<std::string, OptionValue>;
using Perm = std::vector<int>;

std::unique_ptr<Task> make(const Overrides& overrides = {}) { return create_task("word_problem", overrides); }

// sign by cycle count: a permutation of n points with c cycles is even iff n - c is even
bool even_by_cycles(const Perm& p) {
  std::vector<bool> seen(p.size(), false);
  int cycles = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (seen[i]) continue;
    ++cycles;
    for (size_t j = i; !seen[j]; j = static_cast<size_t>(p[j])) seen[j] = true;
  }
  return (static_cast<int>(p.size()) - cycles) % 2 == 0;
}

// the test's own list of a group's elements, in lexicographic one-line order
std::vector<Perm> reference_elements(const std::string& name) {
  const int degree = name[1] - '0';
  const bool even_only = name[0] == 'A';
  Perm p(static_cast<size_t>(degree));
  std::iota(p.begin(), p.end(), 0);
  std::vector<Perm> out;
  do
    if (!even_only || even_by_cycles(p)) out.push_back(p);
  while (std::next_permutation(p.begin(), p.end()));
  return out;
}

Perm first_then(const Perm& a, const Perm& b) {
  Perm c(a.size());
  for (size_t i = 0; i < a.size(); ++i) c[i] = b[static_cast<size_t>(a[i])];
  return c;
}

int index_in(const std::vector<Perm>& elements, const Perm& p) {
  const auto it = std::find(elements.begin(), elements.end(), p);
  return it == elements.end() ? -1 : static_cast<int>(it - elements.begin());
}

TEST(PermutationGroups, SizesOrderIdentityAndParity) {
  const std::map<std::string, int> orders = {{"S3", 6}, {"S4", 24}, {"A5", 60}, {"S5", 120}};
  for (const auto& [name, order] : orders) {
    const auto g = state_tracking::PermutationGroup::by_name(name);
    EXPECT_EQ(g.order(), order) << name;
    EXPECT_EQ(g.elements(), reference_elements(name)) << name;  // the documented numbering
    Perm identity(static_cast<size_t>(g.degree()));
    std::iota(identity.begin(), identity.end(), 0);
    EXPECT_EQ(g.element(0), identity);
    std::set<Perm> distinct(g.elements().begin(), g.elements().end());
    EXPECT_EQ(static_cast<int>(distinct.size()), order);
  }
  const auto a5 = state_tracking::PermutationGroup::by_name("A5");
  for (const auto& p : a5.elements()) EXPECT_TRUE(even_by_cycles(p));
  // S5 has exactly 60 odd elements, none of them in A5
  const auto s5 = state_tracking::PermutationGroup::by_name("S5");
  int odd = 0;
  for (const auto& p : s5.elements()) {
    odd += !even_by_cycles(p);
    EXPECT_EQ(a5.id_of(p) >= 0, even_by_cycles(p));
  }
  EXPECT_EQ(odd, 60);
  EXPECT_THROW(state_tracking::PermutationGroup::by_name("S6"), std::invalid_argument);
}

TEST(PermutationGroups, ClosureInversesAndTheMultiplicationTable) {
  for (const std::string name : {"S3", "S4", "A5", "S5"}) {
    const auto g = state_tracking::PermutationGroup::by_name(name);
    const auto ref = reference_elements(name);
    for (int a = 0; a < g.order(); ++a) {
      bool has_inverse = false;
      for (int b = 0; b < g.order(); ++b) {
        const int c = index_in(ref, first_then(ref[static_cast<size_t>(a)], ref[static_cast<size_t>(b)]));
        ASSERT_GE(c, 0) << name << " not closed";
        ASSERT_EQ(g.multiply(a, b), c) << name << " " << a << "." << b;
        has_inverse |= c == 0;
      }
      EXPECT_TRUE(has_inverse);
    }
  }
  // S3 is not abelian, so the composition order is observable
  const auto s3 = state_tracking::PermutationGroup::by_name("S3");
  bool noncommuting = false;
  for (int a = 0; a < 6; ++a)
    for (int b = 0; b < 6; ++b) noncommuting |= s3.multiply(a, b) != s3.multiply(b, a);
  EXPECT_TRUE(noncommuting);
}

TEST(WordProblem, RegisteredWithDocumentedDefaultsAndContract) {
  const TaskEntry* e = find_task("word_problem");
  ASSERT_NE(e, nullptr);
  std::map<std::string, OptionValue> d;
  for (const auto& spec : e->options) d[spec.key] = spec.default_value;
  EXPECT_EQ(std::get<std::string>(d.at("group")), "S3");
  EXPECT_EQ(std::get<int64_t>(d.at("train_length")), 128);
  EXPECT_EQ(std::get<int64_t>(d.at("test_length")), 512);
  EXPECT_EQ(std::get<int64_t>(d.at("train_examples")), 10000);
  EXPECT_EQ(std::get<int64_t>(d.at("test_examples")), 1000);
  EXPECT_EQ(std::get<bool>(d.at("reject_duplicates")), true);

  auto task = make({{"group", std::string("S5")}});
  EXPECT_EQ(task->vocab_size(), 122);  // 120 elements, BOS 120, PAD 121
  EXPECT_EQ(task->pad_token(), 121);
  EXPECT_EQ(task->max_input_length(), 513);
  EXPECT_EQ(task->metric(), MetricKind::sequence_prefix);
  EXPECT_FALSE(task->fresh_train_data());
  EXPECT_EQ(task->split_size(Split::train), 10000);
  EXPECT_EQ(task->split_size(Split::test), 1000);
}

TEST(WordProblem, TargetsAreTheRunningProductComputedIndependently) {
  // lengths 40/90 draw i.i.d. (|G|^L > 2^62); lengths 7/5 go through the duplicate-free enumeration
  for (const auto& [train_length, test_length] : std::vector<std::pair<int64_t, int64_t>>{{40, 90}, {7, 5}})
  for (const std::string name : {"S3", "S4", "A5", "S5"}) {
    auto task = make({{"group", name}, {"train_length", train_length}, {"test_length", test_length}});
    const int64_t count = train_length > 10 ? 300 : 2000;
    const auto ref = reference_elements(name);
    const int order = static_cast<int>(ref.size());
    int opposite_order_disagrees = 0;
    std::vector<int64_t> frequency(static_cast<size_t>(order), 0);
    int64_t drawn = 0;
    for (Split split : {Split::train, Split::test}) {
      const int64_t length = split == Split::train ? train_length : test_length;
      for (const auto& ex : task->generate(split, split_seed(3, split), 0, count)) {
        ASSERT_EQ(static_cast<int64_t>(ex.input.size()), length + 1);
        ASSERT_EQ(ex.target.size(), ex.input.size());
        EXPECT_EQ(ex.meta.at("length"), length);
        EXPECT_EQ(ex.input[0], order);  // BOS
        EXPECT_EQ(ex.target[0], IGNORE);
        Perm state = ref[0], reversed_state = ref[0];
        for (size_t t = 1; t < ex.input.size(); ++t) {
          const int x = ex.input[t];
          ASSERT_TRUE(x >= 0 && x < order);
          ++frequency[static_cast<size_t>(x)];
          ++drawn;
          state = first_then(state, ref[static_cast<size_t>(x)]);
          reversed_state = first_then(ref[static_cast<size_t>(x)], reversed_state);
          ASSERT_EQ(ex.target[t], index_in(ref, state)) << name << " t=" << t;
        }
        opposite_order_disagrees += index_in(ref, reversed_state) != ex.target.back();
      }
    }
    // the test's convention is the discriminating one: the other order would fail
    EXPECT_GT(opposite_order_disagrees, 0) << name;
    // uniform elements: every count within max(25%, 5 standard deviations) of its expectation
    const double mean = static_cast<double>(drawn) / order;
    for (int64_t f : frequency)
      EXPECT_NEAR(static_cast<double>(f), mean, std::max(0.25 * mean, 5.0 * std::sqrt(mean))) << name;
  }
}

TEST(WordProblem, DeterministicAndIndependentOfHowRangesAreCut) {
  // an enumerated space (S3^8 = 1,679,616 <= 2^62) and an i.i.d. one (S5^128)
  for (const Overrides& o : {Overrides{{"train_length", int64_t{8}}, {"test_length", int64_t{8}}},
                             Overrides{{"group", std::string("S5")}}}) {
    auto task = make(o);
    for (Split split : {Split::train, Split::test}) {
      const auto whole = task->generate(split, 42, 0, 200);
      const auto again = task->generate(split, 42, 0, 200);
      const auto other = task->generate(split, 43, 0, 200);
      std::vector<Example> pieces;
      for (auto [first, count] : std::vector<std::pair<int64_t, int64_t>>{{0, 7}, {7, 0}, {7, 93}, {100, 100}}) {
        auto part = task->generate(split, 42, first, count);
        pieces.insert(pieces.end(), part.begin(), part.end());
      }
      ASSERT_EQ(pieces.size(), whole.size());
      int differing = 0;
      for (size_t i = 0; i < whole.size(); ++i) {
        EXPECT_EQ(whole[i].input, again[i].input);
        EXPECT_EQ(whole[i].target, again[i].target);
        EXPECT_EQ(whole[i].input, pieces[i].input) << i;
        EXPECT_EQ(whole[i].target, pieces[i].target) << i;
        EXPECT_EQ(whole[i].meta, pieces[i].meta);
        differing += whole[i].input != other[i].input;
      }
      EXPECT_GT(differing, 190);
    }
  }
}

TEST(WordProblem, DuplicatesAreRejectedAndSmallSpacesAreSplitDisjointly) {
  // S3 words of length 3: 216 sequences. 100 train + 116 test must be all of them, each once.
  auto task = make({{"train_length", int64_t{3}}, {"test_length", int64_t{3}},
                    {"train_examples", int64_t{100}}, {"test_examples", int64_t{116}}});
  std::set<std::vector<int32_t>> train, test;
  for (const auto& ex : task->generate(Split::train, split_seed(9, Split::train), 0, 100)) train.insert(ex.input);
  for (const auto& ex : task->generate(Split::test, split_seed(9, Split::test), 0, 116)) test.insert(ex.input);
  EXPECT_EQ(train.size(), 100u);
  EXPECT_EQ(test.size(), 116u);
  std::set<std::vector<int32_t>> all = train;
  all.insert(test.begin(), test.end());
  EXPECT_EQ(all.size(), 216u);

  // a whole split at the size of its space is every sequence once
  auto full = make({{"group", std::string("S4")}, {"train_length", int64_t{2}}, {"train_examples", int64_t{576}}});
  std::set<std::vector<int32_t>> every;
  for (const auto& ex : full->generate(Split::train, 77, 0, 576)) every.insert(ex.input);
  EXPECT_EQ(every.size(), 576u);

  // without rejection, a small space repeats
  auto repeats = make({{"train_length", int64_t{2}}, {"train_examples", int64_t{200}}, {"reject_duplicates", false}});
  std::set<std::vector<int32_t>> seen;
  for (const auto& ex : repeats->generate(Split::train, 77, 0, 200)) seen.insert(ex.input);
  EXPECT_LE(seen.size(), 36u);
}

TEST(WordProblem, TrainAndTestShareNoSequenceWhereTheSpaceIsLarge) {
  for (const Overrides& o : {Overrides{}, Overrides{{"group", std::string("S5")}, {"train_length", int64_t{12}},
                                                    {"test_length", int64_t{12}}},
                             Overrides{{"train_length", int64_t{20}}, {"test_length", int64_t{20}},
                                       {"reject_duplicates", false}}}) {
    auto task = make(o);
    std::set<std::vector<int32_t>> train;
    for (const auto& ex : task->generate(Split::train, split_seed(1, Split::train), 0, 3000)) train.insert(ex.input);
    EXPECT_EQ(train.size(), 3000u);
    int shared = 0;
    for (const auto& ex : task->generate(Split::test, split_seed(1, Split::test), 0, 1000))
      shared += static_cast<int>(train.count(ex.input));
    EXPECT_EQ(shared, 0);
  }
}

TEST(WordProblem, DescribeShowsOneLineNotationAndTheRunningProduct) {
  auto task = make();
  const auto ref = reference_elements("S3");
  // swap 1,2 then swap 2,3: first a = [2 1 3], then b = [1 3 2] gives [3 1 2]
  Example ex;
  ex.input = {6, index_in(ref, {1, 0, 2}), index_in(ref, {0, 2, 1})};
  ex.target = {IGNORE, index_in(ref, {1, 0, 2}), index_in(ref, {2, 0, 1})};
  ex.meta["length"] = 2;
  const std::string text = task->describe(ex);
  EXPECT_NE(text.find("[2 1 3]"), std::string::npos) << text;
  EXPECT_NE(text.find("[1 3 2]"), std::string::npos) << text;
  EXPECT_NE(text.find("[3 1 2]"), std::string::npos) << text;
  EXPECT_EQ(first_then({1, 0, 2}, {0, 2, 1}), (Perm{2, 0, 1}));
}

void expect_config_error(const Overrides& o, const std::string& key) {
  try {
    make(o);
    ADD_FAILURE() << "no ConfigError for " << key;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key, key) << e.what();
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
  }
}

TEST(WordProblem, EveryBadValueNamesItsKey) {
  try {
    make({{"group", std::string("S6")}});
    ADD_FAILURE() << "S6 accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key, "group");
    for (const char* known : {"S3", "S4", "A5", "S5"}) EXPECT_NE(std::string(e.what()).find(known), std::string::npos);
  }
  expect_config_error({{"train_length", int64_t{0}}}, "train_length");
  expect_config_error({{"test_length", int64_t{-3}}}, "test_length");
  expect_config_error({{"test_length", int64_t{1} << 40}}, "test_length");
  expect_config_error({{"train_examples", int64_t{0}}}, "train_examples");
  expect_config_error({{"test_examples", int64_t{0}}}, "test_examples");
  expect_config_error({{"reject_duplicates", int64_t{1}}}, "reject_duplicates");
  expect_config_error({{"gruop", std::string("S3")}}, "gruop");
  // more distinct sequences asked for than exist
  expect_config_error({{"train_length", int64_t{3}}, {"train_examples", int64_t{217}}}, "train_examples");
  expect_config_error({{"train_length", int64_t{3}}, {"test_length", int64_t{3}}, {"train_examples", int64_t{200}},
                       {"test_examples", int64_t{17}}},
                      "test_examples");
  EXPECT_NO_THROW(make({{"train_length", int64_t{3}}, {"train_examples", int64_t{217}}, {"reject_duplicates", false}}));
}

}  // namespace
}  // namespace db
