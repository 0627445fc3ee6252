// evaluation.cpp: batched, length-grouped evaluation (see evaluation.h).
#include "harness/train/evaluation.h"

#include <algorithm>
#include <numeric>

#include "harness/train/batching.h"

namespace db {

Evaluation evaluate_model(Model& model, const Task& task, const std::vector<Example>& examples, int batch_size) {
  const EvalForward forward = [&](const Batch& batch, int32_t* predictions) {
    return model.forward_loss(batch.tokens.data(), batch.targets.data(), batch.B, batch.T, false, predictions);
  };
  return evaluate_model(forward, task, examples, batch_size);
}

Evaluation evaluate_model(const EvalForward& forward, const Task& task, const std::vector<Example>& examples,
                          int batch_size) {
  const int64_t n = static_cast<int64_t>(examples.size());
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return examples[a].input.size() < examples[b].input.size(); });
  std::vector<std::vector<int32_t>> predictions(n);
  Batch batch;
  std::vector<int32_t> pred;
  double loss_sum = 0.0;
  int64_t count = 0;
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t size = std::min<int64_t>(batch_size, n - start);
    std::span<const int64_t> idx(order.data() + start, size);
    make_batch(examples, idx, task.pad_token(), batch);
    pred.resize(batch.tokens.size());
    const LossResult r = forward(batch, pred.data());
    loss_sum += r.loss_sum;
    count += r.count;
    for (int b = 0; b < batch.B; ++b) {
      const size_t len = examples[idx[b]].input.size();
      predictions[idx[b]].assign(pred.begin() + size_t(b) * batch.T, pred.begin() + size_t(b) * batch.T + len);
    }
  }
  Evaluation e;
  e.metrics = evaluate_predictions(task, examples, predictions);
  e.loss = count ? loss_sum / count : 0.0;
  return e;
}

}  // namespace db
