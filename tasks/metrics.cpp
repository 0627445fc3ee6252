// metrics.cpp: the benchmark metrics (see metrics.h for definitions and sources).
#include "tasks/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <unordered_map>

namespace db {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// per-example tallies every metric is built from
struct ExampleScore {
  int64_t labelled = 0;
  int64_t correct = 0;
  int64_t right_prefix = 0;  // labelled positions right before the first mistake
  double accuracy() const { return labelled ? static_cast<double>(correct) / labelled : kNaN; }
};

// torchmetrics' per-class counts; only tp, fn and fp matter for macro accuracy
struct ClassCounts {
  int64_t tp = 0, fn = 0, fp = 0;
};

// mean of a set of per-example accuracies, skipping unlabelled examples (pandas mean skips NaN)
struct Mean {
  double sum = 0.0;
  int64_t n = 0;
  void add(double x) {
    if (!std::isnan(x)) sum += x, ++n;
  }
  double value() const { return n ? sum / n : kNaN; }
};

}  // namespace

const char* headline_metric_name(MetricKind kind) {
  switch (kind) {
    case MetricKind::accuracy:
      return "accuracy";
    case MetricKind::macro_accuracy:
      return "macro_accuracy";
    case MetricKind::scaled_accuracy:
      return "scaled_accuracy";
    case MetricKind::sequence_prefix:
      return "sequence_accuracy";
  }
  return "accuracy";
}

EvalMetrics evaluate_predictions(const Task& task, const std::vector<Example>& examples,
                                 const std::vector<std::vector<int32_t>>& predictions) {
  if (examples.size() != predictions.size())
    throw std::invalid_argument(
        fmt::format("evaluate_predictions: {} examples but {} prediction rows", examples.size(), predictions.size()));
  const int32_t vocab = task.vocab_size();
  std::vector<ExampleScore> per_example(examples.size());
  std::unordered_map<int32_t, ClassCounts> classes;
  const bool want_prefix = task.metric() == MetricKind::sequence_prefix;

  int64_t labelled_total = 0, correct_total = 0;
  for (size_t e = 0; e < examples.size(); ++e) {
    const Example& ex = examples[e];
    const auto& pred = predictions[e];
    if (pred.size() != ex.target.size())
      throw std::invalid_argument(fmt::format("evaluate_predictions: example {} has {} targets but {} predictions", e,
                                              ex.target.size(), pred.size()));
    ExampleScore& s = per_example[e];
    int64_t first_wrong = -1;
    for (size_t p = 0; p < ex.target.size(); ++p) {
      const int32_t t = ex.target[p];
      if (t == IGNORE) continue;
      const bool right = pred[p] == t;
      if (!right && first_wrong < 0) first_wrong = s.labelled;
      ++s.labelled;
      s.correct += right;
      if (right) {
        ++classes[t].tp;
      } else {
        ++classes[t].fn;
        // a prediction outside the vocabulary is wrong but names no class
        if (pred[p] >= 0 && pred[p] < vocab) ++classes[pred[p]].fp;
      }
    }
    labelled_total += s.labelled;
    correct_total += s.correct;
    s.right_prefix = first_wrong < 0 ? s.labelled : first_wrong;
  }

  EvalMetrics out;
  auto& sc = out.scalars;
  Mean accuracy;
  int64_t labelled_examples = 0, perfect_examples = 0;
  for (const auto& s : per_example) {
    accuracy.add(s.accuracy());
    if (s.labelled > 0) {
      ++labelled_examples;
      perfect_examples += s.correct == s.labelled;
    }
  }
  sc["accuracy"] = accuracy.value();
  sc["token_accuracy"] = labelled_total ? static_cast<double>(correct_total) / labelled_total : kNaN;
  sc["sequence_accuracy"] = labelled_examples ? static_cast<double>(perfect_examples) / labelled_examples : kNaN;

  Mean macro;
  for (const auto& [cls, c] : classes)
    if (c.tp + c.fn + c.fp > 0) macro.add(c.tp + c.fn > 0 ? static_cast<double>(c.tp) / (c.tp + c.fn) : 0.0);
  sc["macro_accuracy"] = macro.value();

  const double r = task.chance_rate();
  sc["scaled_accuracy"] = r < 1.0 ? (sc["accuracy"] - r) / (1.0 - r) : kNaN;
  sc["labelled_positions"] = static_cast<double>(labelled_total);
  sc["examples"] = static_cast<double>(examples.size());

  // slices: one accuracy per value of each listed key that takes more than one value in the set
  for (const auto& key : task.slice_keys()) {
    std::map<int64_t, Mean> by_value;
    for (size_t e = 0; e < examples.size(); ++e) {
      auto it = examples[e].meta.find(key);
      if (it != examples[e].meta.end()) by_value[it->second].add(per_example[e].accuracy());
    }
    if (by_value.size() < 2) continue;
    for (const auto& [value, mean] : by_value) sc[fmt::format("accuracy/{}={}", key, value)] = mean.value();
  }

  sc["score"] = sc[headline_metric_name(task.metric())];

  if (want_prefix) {
    // reach[l] = sequences with more than l labelled positions, right_through[l] = those whose first
    // l+1 labelled positions are all right; both are suffix sums of per-sequence counts
    int64_t longest = 0;
    for (const auto& s : per_example) longest = std::max(longest, s.labelled);
    std::vector<int64_t> reach(longest + 1, 0), right_through(longest + 1, 0);
    for (const auto& s : per_example) {
      ++reach[s.labelled];
      ++right_through[s.right_prefix];
    }
    for (int64_t l = longest - 1; l >= 0; --l) {
      reach[l] += reach[l + 1];
      right_through[l] += right_through[l + 1];
    }
    // element l-1 describes prefix length l: sequences with at least l labels / all right through l
    std::vector<double> prefix(longest), support(longest);
    for (int64_t l = 1; l <= longest; ++l) {
      prefix[l - 1] = static_cast<double>(right_through[l]) / reach[l];
      support[l - 1] = static_cast<double>(reach[l]);
    }
    out.curves["prefix_accuracy"] = std::move(prefix);
    out.curves["prefix_support"] = std::move(support);
  }

  // accuracy by the "length" metadata, when examples carry it
  std::map<int64_t, Mean> by_length;
  for (size_t e = 0; e < examples.size(); ++e) {
    auto it = examples[e].meta.find("length");
    if (it != examples[e].meta.end() && it->second >= 1) by_length[it->second].add(per_example[e].accuracy());
  }
  if (!by_length.empty()) {
    const int64_t longest = by_length.rbegin()->first;
    std::vector<double> acc(longest, kNaN), count(longest, 0.0);
    for (const auto& [len, mean] : by_length) {
      acc[len - 1] = mean.value();
      count[len - 1] = static_cast<double>(mean.n);
    }
    out.curves["accuracy_by_length"] = std::move(acc);
    out.curves["accuracy_by_length_count"] = std::move(count);
  }
  return out;
}

}  // namespace db
