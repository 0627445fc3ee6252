// evaluation.h: score a model on a set of examples with the task's metric.
#pragma once

#include <vector>

#include "models/backbones/model.h"
#include "tasks/metrics.h"
#include "tasks/task.h"

namespace db {

struct Evaluation {
  EvalMetrics metrics;   // scalars ("score", "accuracy", ...) and curves
  double loss = 0.0;     // mean cross-entropy over labelled positions
};

// examples are run in batches of `batch_size`, grouped by length to limit padding; the result does
// not depend on the grouping
Evaluation evaluate_model(Model& model, const Task& task, const std::vector<Example>& examples, int batch_size);

}  // namespace db
