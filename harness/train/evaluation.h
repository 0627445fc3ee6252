// evaluation.h: score a model on a set of examples with the task's metric.
#pragma once

#include <functional>
#include <vector>

#include "harness/train/batching.h"
#include "models/backbones/model.h"
#include "tasks/metrics.h"
#include "tasks/task.h"

namespace db {

struct Evaluation {
  EvalMetrics metrics;   // scalars ("score", "accuracy", ...) and curves
  double loss = 0.0;     // mean cross-entropy over labelled positions
};

// the forward pass an evaluation runs: batch -> summed loss, predictions [B*T] (argmax at labelled
// positions, -1 elsewhere); a Model on the CPU or a training backend on any device
using EvalForward = std::function<LossResult(const Batch& batch, int32_t* predictions)>;

// examples are run in batches of `batch_size`, grouped by length to limit padding; the result does
// not depend on the grouping
Evaluation evaluate_model(const EvalForward& forward, const Task& task, const std::vector<Example>& examples,
                          int batch_size);
Evaluation evaluate_model(Model& model, const Task& task, const std::vector<Example>& examples, int batch_size);

}  // namespace db
