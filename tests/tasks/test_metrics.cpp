// test_metrics.cpp: every metric of tasks/metrics.h on hand-made predictions with answers worked out
// by hand (Zoology accuracy, torchmetrics macro accuracy, scaled accuracy, slices, prefix curves,
// accuracy by length), plus an end-to-end check on real MQAR examples.
#include <gtest/gtest.h>

#include <cmath>

#include "tasks/metrics.h"

namespace db {
namespace {

// a task that only carries what the metrics read
class FakeTask : public Task {
 public:
  MetricKind kind = MetricKind::accuracy;
  double chance = 0.0;
  std::vector<std::string> slices;
  int vocab = 10;

  std::string name() const override { return "fake"; }
  int vocab_size() const override { return vocab; }
  int max_input_length() const override { return 16; }
  MetricKind metric() const override { return kind; }
  double chance_rate() const override { return chance; }
  int64_t split_size(Split) const override { return 0; }
  std::vector<Example> generate(Split, uint64_t, int64_t, int64_t) const override { return {}; }
  std::vector<std::string> slice_keys() const override { return slices; }
};

constexpr int32_t X = IGNORE;

Example make(std::vector<int32_t> target, std::map<std::string, int64_t> meta = {}) {
  Example ex;
  ex.input.assign(target.size(), 0);
  ex.target = std::move(target);
  ex.meta = std::move(meta);
  return ex;
}

TEST(Metrics, AccuracyIsTheMeanOfPerExampleAccuracies) {
  FakeTask task;
  const std::vector<Example> exs = {make({X, 1, X, 2}), make({3, 3, 3, 3}), make({X, X})};
  const std::vector<std::vector<int32_t>> pred = {{9, 1, 9, 5}, {3, 3, 3, 3}, {1, 1}};
  const auto m = evaluate_predictions(task, exs, pred);
  // example 1: 1/2, example 2: 4/4, example 3 has no labels and is skipped
  EXPECT_DOUBLE_EQ(m.scalars.at("accuracy"), 0.75);
  EXPECT_DOUBLE_EQ(m.scalars.at("token_accuracy"), 5.0 / 6.0);
  EXPECT_DOUBLE_EQ(m.scalars.at("sequence_accuracy"), 0.5);
  EXPECT_DOUBLE_EQ(m.scalars.at("score"), 0.75);
  EXPECT_DOUBLE_EQ(m.scalars.at("labelled_positions"), 6);
  EXPECT_DOUBLE_EQ(m.scalars.at("examples"), 3);
  EXPECT_DOUBLE_EQ(m.scalars.at("scaled_accuracy"), 0.75);  // chance 0
  EXPECT_TRUE(m.curves.empty());
}

TEST(Metrics, NothingLabelledGivesNaN) {
  FakeTask task;
  const auto m = evaluate_predictions(task, {make({X, X})}, {{0, 0}});
  EXPECT_TRUE(std::isnan(m.scalars.at("accuracy")));
  EXPECT_TRUE(std::isnan(m.scalars.at("macro_accuracy")));
  EXPECT_TRUE(std::isnan(m.scalars.at("score")));
}

TEST(Metrics, MacroAccuracyMatchesTorchmetrics) {
  FakeTask task;
  task.kind = MetricKind::macro_accuracy;
  // torchmetrics documentation example: target [2, 1, 0, 0], preds [2, 1, 0, 1] -> 0.8333
  auto m = evaluate_predictions(task, {make({2, 1, 0, 0})}, {{2, 1, 0, 1}});
  EXPECT_NEAR(m.scalars.at("macro_accuracy"), 2.5 / 3.0, 1e-12);
  EXPECT_NEAR(m.scalars.at("score"), 2.5 / 3.0, 1e-12);

  // accumulated over the whole set, not per example: class 1 is right 2 of 3 times across two
  // examples; class 2 is missed once by predicting 3, which never is a target but has fp > 0 and so
  // counts with recall 0 (torchmetrics keeps classes with tp + fp + fn > 0); class 7, predicted
  // only at ignored positions, does not count; 99 is out of the vocabulary: wrong, no class
  const std::vector<Example> exs = {make({1, X, 1}), make({X, 1, 2, 4})};
  const std::vector<std::vector<int32_t>> pred = {{1, 7, 1}, {7, 5, 3, 99}};
  m = evaluate_predictions(task, exs, pred);
  // classes: 1 -> 2/3, 2 -> 0, 3 -> 0 (fp only), 4 -> 0, 5 -> 0 (fp only)
  EXPECT_NEAR(m.scalars.at("macro_accuracy"), (2.0 / 3.0) / 5.0, 1e-12);
  EXPECT_NEAR(m.scalars.at("token_accuracy"), 2.0 / 5.0, 1e-12);
}

TEST(Metrics, MacroDiffersFromMicroOnImbalancedClasses) {
  FakeTask task;
  // class 0: 9 of 9 right; class 1: 0 of 1 (predicted as 0, which already counts)
  const auto m = evaluate_predictions(task, {make({0, 0, 0, 0, 0, 0, 0, 0, 0, 1})}, {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}});
  EXPECT_DOUBLE_EQ(m.scalars.at("token_accuracy"), 0.9);
  EXPECT_DOUBLE_EQ(m.scalars.at("macro_accuracy"), 0.5);
}

TEST(Metrics, ScaledAccuracy) {
  FakeTask task;
  task.kind = MetricKind::scaled_accuracy;
  task.chance = 0.5;
  // four one-answer examples, three right: acc 0.75 -> (0.75 - 0.5) / 0.5 = 0.5
  const std::vector<Example> exs = {make({X, 1}), make({X, 2}), make({X, 1}), make({X, 2})};
  const auto m = evaluate_predictions(task, exs, {{0, 1}, {0, 2}, {0, 1}, {0, 1}});
  EXPECT_DOUBLE_EQ(m.scalars.at("scaled_accuracy"), 0.5);
  EXPECT_DOUBLE_EQ(m.scalars.at("score"), 0.5);
  task.chance = 0.2;
  const auto m5 = evaluate_predictions(task, exs, {{0, 0}, {0, 0}, {0, 0}, {0, 0}});
  EXPECT_DOUBLE_EQ(m5.scalars.at("scaled_accuracy"), -0.25);  // below chance is negative
}

TEST(Metrics, SlicesOnlyForListedKeysThatVary) {
  FakeTask task;
  task.slices = {"num_kv_pairs", "seq_len"};
  const std::vector<Example> exs = {make({1, 1}, {{"num_kv_pairs", 4}, {"seq_len", 64}, {"other", 1}}),
                                    make({1, 1}, {{"num_kv_pairs", 8}, {"seq_len", 64}, {"other", 2}}),
                                    make({1, 1}, {{"num_kv_pairs", 8}, {"seq_len", 64}, {"other", 3}})};
  const auto m = evaluate_predictions(task, exs, {{1, 1}, {1, 0}, {0, 0}});
  EXPECT_DOUBLE_EQ(m.scalars.at("accuracy/num_kv_pairs=4"), 1.0);
  EXPECT_DOUBLE_EQ(m.scalars.at("accuracy/num_kv_pairs=8"), 0.25);
  EXPECT_EQ(m.scalars.count("accuracy/seq_len=64"), 0u);  // one value only
  for (const auto& [name, value] : m.scalars) EXPECT_EQ(name.find("other"), std::string::npos) << name;
}

TEST(Metrics, PrefixAccuracyCountsOnlySequencesLongEnough) {
  FakeTask task;
  task.kind = MetricKind::sequence_prefix;
  // labelled positions: A 3 all right; B 3, first mistake at its 2nd; C 1 right; D 2, wrong at once
  const std::vector<Example> exs = {make({1, X, 2, 3}), make({1, 2, 3}), make({X, 4}), make({5, 6})};
  const std::vector<std::vector<int32_t>> pred = {{1, 0, 2, 3}, {1, 0, 3}, {0, 4}, {0, 6}};
  const auto m = evaluate_predictions(task, exs, pred);
  // l=1: A B C right, D wrong, of 4; l=2: A right, B D wrong, of 3 (C too short); l=3: A right of A B
  const std::vector<double> expected = {3.0 / 4.0, 1.0 / 3.0, 1.0 / 2.0};
  ASSERT_EQ(m.curves.at("prefix_accuracy").size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(m.curves.at("prefix_accuracy")[i], expected[i]) << i;
  EXPECT_EQ(m.curves.at("prefix_support"), (std::vector<double>{4, 3, 2}));
  // headline for sequence_prefix tasks: whole sequences right (A and C)
  EXPECT_DOUBLE_EQ(m.scalars.at("sequence_accuracy"), 0.5);
  EXPECT_DOUBLE_EQ(m.scalars.at("score"), 0.5);
}

TEST(Metrics, PrefixCurveOnlyForSequencePrefixTasks) {
  FakeTask task;
  const auto m = evaluate_predictions(task, {make({1, 2})}, {{1, 2}});
  EXPECT_EQ(m.curves.count("prefix_accuracy"), 0u);
}

TEST(Metrics, AccuracyByLength) {
  FakeTask task;
  const std::vector<Example> exs = {make({X, 1}, {{"length", 2}}), make({X, 1}, {{"length", 2}}),
                                    make({1, 1, 1, 1}, {{"length", 4}})};
  const auto m = evaluate_predictions(task, exs, {{0, 1}, {0, 0}, {1, 1, 0, 0}});
  const auto& acc = m.curves.at("accuracy_by_length");
  const auto& count = m.curves.at("accuracy_by_length_count");
  ASSERT_EQ(acc.size(), 4u);
  EXPECT_TRUE(std::isnan(acc[0]));
  EXPECT_DOUBLE_EQ(acc[1], 0.5);
  EXPECT_TRUE(std::isnan(acc[2]));
  EXPECT_DOUBLE_EQ(acc[3], 0.5);
  EXPECT_EQ(count, (std::vector<double>{0, 2, 0, 1}));
  // no "length" metadata: no curve
  EXPECT_EQ(evaluate_predictions(task, {make({1})}, {{1}}).curves.count("accuracy_by_length"), 0u);
}

TEST(Metrics, ShapeMismatchThrows) {
  FakeTask task;
  EXPECT_THROW(evaluate_predictions(task, {make({1, 2})}, {}), std::invalid_argument);
  EXPECT_THROW(evaluate_predictions(task, {make({1, 2})}, {{1}}), std::invalid_argument);
}

TEST(Metrics, HeadlineNames) {
  EXPECT_STREQ(headline_metric_name(MetricKind::accuracy), "accuracy");
  EXPECT_STREQ(headline_metric_name(MetricKind::macro_accuracy), "macro_accuracy");
  EXPECT_STREQ(headline_metric_name(MetricKind::scaled_accuracy), "scaled_accuracy");
  EXPECT_STREQ(headline_metric_name(MetricKind::sequence_prefix), "sequence_accuracy");
}

TEST(Metrics, MqarEndToEnd) {
  auto task = create_task("mqar", {{"test_segments", std::vector<double>{64, 4, 10, 128, 8, 10}}});
  const auto exs = task->generate(Split::test, 3, 0, 20);
  // perfect: copy the labels; half right: answer the first K/2 queries of each example, miss the rest
  std::vector<std::vector<int32_t>> perfect, none, first_half;
  for (const auto& ex : exs) {
    auto p = ex.input;
    auto q = ex.input;
    const int64_t K = ex.meta.at("num_kv_pairs");
    int64_t seen = 0;
    for (size_t i = 0; i < ex.target.size(); ++i)
      if (ex.target[i] != IGNORE) {
        p[i] = ex.target[i];
        q[i] = seen++ < K / 2 ? ex.target[i] : 0;
      }
    perfect.push_back(p);
    none.push_back(ex.input);
    first_half.push_back(q);
  }
  EXPECT_DOUBLE_EQ(evaluate_predictions(*task, exs, perfect).scalars.at("score"), 1.0);
  EXPECT_DOUBLE_EQ(evaluate_predictions(*task, exs, none).scalars.at("score"), 0.0);
  const auto half = evaluate_predictions(*task, exs, first_half);
  EXPECT_DOUBLE_EQ(half.scalars.at("accuracy"), 0.5);
  EXPECT_DOUBLE_EQ(half.scalars.at("accuracy/num_kv_pairs=4"), 0.5);
  EXPECT_DOUBLE_EQ(half.scalars.at("accuracy/seq_len=128"), 0.5);
}

}  // namespace
}  // namespace db
