// test_task_common.cpp: the Task contract (tasks/task.h) checked for every registered task, plus
// print_samples (tasks/sample.h): shapes and token ranges, determinism, range independence, disjoint
// split streams, option errors naming the key, and well-formed text/jsonl dumps.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tasks/sample.h"
#include "tasks/task.h"

namespace db {
namespace {

std::vector<std::string> registered_names() {
  std::vector<std::string> names;
  for (const auto* e : task_registry()) names.push_back(e->name);
  return names;
}

class EveryTask : public ::testing::TestWithParam<std::string> {};

TEST(TaskRegistry, HoldsTheRecallAndMadTasks) {
  const auto names = registered_names();
  const std::set<std::string> unique(names.begin(), names.end());
  EXPECT_EQ(unique.size(), names.size()) << "duplicate task name";
  for (const std::string name : {"mqar", "in_context_recall", "noisy_in_context_recall", "fuzzy_in_context_recall",
                                 "selective_copying", "compression", "memorization"})
    EXPECT_TRUE(unique.count(name)) << name;
}

TEST(TaskRegistry, UnknownTaskNamesTheNameKey) {
  try {
    create_task("mqr", {});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key, "name");
    EXPECT_NE(std::string(e.what()).find("mqar"), std::string::npos) << e.what();
  }
}

TEST_P(EveryTask, EntryIsWellFormed) {
  const TaskEntry* entry = find_task(GetParam());
  ASSERT_NE(entry, nullptr);
  EXPECT_FALSE(entry->description.empty());
  std::set<std::string> keys;
  for (const auto& spec : entry->options) {
    EXPECT_TRUE(keys.insert(spec.key).second) << "duplicate option " << spec.key;
    EXPECT_FALSE(spec.help.empty()) << spec.key;
  }
  auto task = create_task(GetParam(), {});
  EXPECT_EQ(task->name(), GetParam());
  EXPECT_GT(task->vocab_size(), 0);
  EXPECT_GT(task->max_input_length(), 0);
  EXPECT_GT(task->split_size(Split::test), 0);
}

TEST_P(EveryTask, ExamplesHaveTheContractShape) {
  auto task = create_task(GetParam(), {});
  const int V = task->vocab_size();
  for (Split split : {Split::train, Split::test}) {
    const int64_t n = std::min<int64_t>(16, task->split_size(split));
    for (const auto& ex : task->generate(split, split_seed(5, split), 0, n)) {
      ASSERT_EQ(ex.input.size(), ex.target.size());
      ASSERT_FALSE(ex.input.empty());
      EXPECT_LE(static_cast<int64_t>(ex.input.size()), task->max_input_length());
      int64_t labelled = 0;
      for (size_t p = 0; p < ex.input.size(); ++p) {
        EXPECT_GE(ex.input[p], 0);
        EXPECT_LT(ex.input[p], V);
        if (ex.target[p] == IGNORE) continue;
        ++labelled;
        EXPECT_GE(ex.target[p], 0);
        EXPECT_LT(ex.target[p], V);
      }
      EXPECT_GT(labelled, 0) << "an example nothing is scored on";
    }
  }
}

TEST_P(EveryTask, GenerationIsDeterministicAndRangeIndependent) {
  auto task = create_task(GetParam(), {});
  for (Split split : {Split::train, Split::test}) {
    const int64_t n = std::min<int64_t>(9, task->split_size(split));
    const uint64_t seed = split_seed(17, split);
    const auto whole = task->generate(split, seed, 0, n);
    const auto again = create_task(GetParam(), {})->generate(split, seed, 0, n);
    auto pieces = task->generate(split, seed, 0, n / 2);
    const auto rest = task->generate(split, seed, n / 2, n - n / 2);
    pieces.insert(pieces.end(), rest.begin(), rest.end());
    ASSERT_EQ(whole.size(), static_cast<size_t>(n));
    ASSERT_EQ(pieces.size(), whole.size());
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ(whole[i].input, again[i].input);
      EXPECT_EQ(whole[i].target, again[i].target);
      EXPECT_EQ(whole[i].meta, again[i].meta);
      EXPECT_EQ(whole[i].input, pieces[i].input) << "example " << i;
      EXPECT_EQ(whole[i].target, pieces[i].target) << "example " << i;
    }
    // another seed gives other data (n examples all equal by chance would be a broken stream)
    const auto other = task->generate(split, split_seed(18, split), 0, n);
    bool any_differs = false;
    for (int64_t i = 0; i < n; ++i) any_differs |= other[i].input != whole[i].input;
    EXPECT_TRUE(any_differs);
  }
}

TEST_P(EveryTask, UnknownOptionNamesTheKey) {
  try {
    create_task(GetParam(), {{"no_such_option", int64_t{1}}});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key, "no_such_option");
  }
}

TEST_P(EveryTask, JsonlSamplesRoundTrip) {
  auto task = create_task(GetParam(), {});
  std::ostringstream out;
  print_samples(*task, Split::test, 3, 4, "jsonl", out);
  const auto expected = task->generate(Split::test, split_seed(3, Split::test), 0, 4);
  std::istringstream in(out.str());
  std::string line;
  size_t i = 0;
  while (std::getline(in, line)) {
    ASSERT_LT(i, expected.size());
    const auto j = nlohmann::json::parse(line);
    ASSERT_EQ(j.at("input").size(), expected[i].input.size());
    ASSERT_EQ(j.at("target").size(), expected[i].target.size());
    for (size_t p = 0; p < expected[i].input.size(); ++p) {
      EXPECT_EQ(j["input"][p].get<int32_t>(), expected[i].input[p]);
      if (expected[i].target[p] == IGNORE)
        EXPECT_TRUE(j["target"][p].is_null());
      else
        EXPECT_EQ(j["target"][p].get<int32_t>(), expected[i].target[p]);
    }
    for (const auto& [key, value] : expected[i].meta) EXPECT_EQ(j.at("meta").at(key).get<int64_t>(), value);
    ++i;
  }
  EXPECT_EQ(i, expected.size());
}

TEST_P(EveryTask, TextSamplesShowTokens) {
  auto task = create_task(GetParam(), {});
  std::ostringstream out;
  print_samples(*task, Split::train, 3, 2, "text", out);
  const std::string text = out.str();
  EXPECT_NE(text.find(GetParam()), std::string::npos);
  EXPECT_NE(text.find("example 1"), std::string::npos);
  EXPECT_NE(text.find("input:"), std::string::npos);
  EXPECT_NE(text.find("target:"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Registry, EveryTask, ::testing::ValuesIn(registered_names()),
                         [](const auto& info) { return info.param; });

TEST(PrintSamples, RejectsUnknownFormatAndClampsCount) {
  auto task = create_task("mqar", {{"test_examples", int64_t{3}}});
  std::ostringstream out;
  try {
    print_samples(*task, Split::test, 1, 2, "csv", out);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key, "format");
  }
  print_samples(*task, Split::test, 1, 10, "jsonl", out);
  const std::string dump = out.str();
  EXPECT_EQ(std::count(dump.begin(), dump.end(), '\n'), 3);
}

TEST(PrintSamples, TextIncludesTheTaskRendering) {
  auto task = create_task("mqar", {{"seq_len", int64_t{16}}, {"num_kv_pairs", int64_t{2}}});
  std::ostringstream out;
  print_samples(*task, Split::test, 1, 1, "text", out);
  EXPECT_NE(out.str().find("queries"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("num_kv_pairs=2"), std::string::npos) << out.str();
  // the raw token lines appear once, inside the rendering
  const std::string s = out.str();
  EXPECT_EQ(s.find("input:"), s.rfind("input:"));
}

}  // namespace
}  // namespace db
