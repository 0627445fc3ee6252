// metrics.h: scoring a model's predictions on a task's test examples, with each benchmark's own
// averaging (task-protocols.md A.2, B.1, C.3, D and checklist F.2).
//
// Predictions are the argmax token at every input position (same shape as the inputs). Scalars:
//   accuracy         Zoology's: per-example accuracy over labelled positions, averaged over the
//                    examples that have labels (zoology/train.py); equals query-level accuracy for
//                    MQAR, where every example has the same number of queries
//   token_accuracy   micro accuracy over all labelled positions of the set
//   macro_accuracy   torchmetrics MulticlassAccuracy(average='macro', ignore_index=-100) accumulated
//                    over the set (mad/metrics.py): recall per class, averaged over classes with
//                    tp + fp + fn > 0, so a class that is only ever (wrongly) predicted counts as 0
//   sequence_accuracy  fraction of labelled examples with every labelled position right
//   scaled_accuracy  (accuracy - r) / (1 - r), r = task.chance_rate() (eval-chomsky.py)
//   accuracy/<key>=<value>  accuracy within each value of a task slice key that varies in the set
//   score            the headline for the task's MetricKind (sequence_prefix: sequence_accuracy)
//   labelled_positions, examples  counts, for the record
// Curves:
//   prefix_accuracy  (sequence_prefix tasks) element l-1 = fraction of sequences whose first l
//                    labelled positions are all right, among sequences with at least l labelled
//                    positions; shorter sequences leave the denominator rather than count as right
//                    or wrong (DeltaProduct's sets have one length, where the choice never matters)
//   prefix_support   the number of sequences behind each element of prefix_accuracy
//   accuracy_by_length, accuracy_by_length_count  (examples with meta "length") element l-1 =
//                    accuracy of the examples of length l, NaN where there are none
// A quantity with nothing to average over (no labelled positions) is NaN.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tasks/task.h"

namespace db {

struct EvalMetrics {
  std::map<std::string, double> scalars;
  std::map<std::string, std::vector<double>> curves;
};

// throws std::invalid_argument when predictions and examples differ in shape
EvalMetrics evaluate_predictions(const Task& task, const std::vector<Example>& examples,
                                 const std::vector<std::vector<int32_t>>& predictions);

// the scalar name evaluate_predictions uses as "score" for a MetricKind
const char* headline_metric_name(MetricKind kind);

}  // namespace db
