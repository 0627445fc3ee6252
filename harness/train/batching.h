// batching.h: examples -> padded [B, T] token and target arrays.
//
// Each batch is padded to its own longest example (not the task's maximum) with the task's pad
// token and IGNORE targets; models are causal, so right padding never changes a real position.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tasks/task.h"

namespace db {

struct Batch {
  int B = 0, T = 0;
  std::vector<int32_t> tokens;   // [B, T]
  std::vector<int32_t> targets;  // [B, T], IGNORE at padding and unscored positions
};

// gather examples[indices[i]] into `batch` (reusing its storage)
void make_batch(const std::vector<Example>& examples, std::span<const int64_t> indices, int32_t pad_token,
                Batch& batch);

}  // namespace db
