// batching.cpp: see batching.h.
#include "harness/train/batching.h"

#include <algorithm>

namespace db {


void make_batch(const std::vector<Example>& examples, std::span<const int64_t> indices, int32_t pad_token,
                Batch& batch) {
  batch.B = static_cast<int>(indices.size());
  batch.T = 0;
  for (int64_t i : indices) batch.T = std::max(batch.T, static_cast<int>(examples[i].input.size()));
  batch.tokens.assign(size_t(batch.B) * batch.T, pad_token);
  batch.targets.assign(size_t(batch.B) * batch.T, IGNORE);
  for (int b = 0; b < batch.B; ++b) {
    const Example& ex = examples[indices[b]];
    std::copy(ex.input.begin(), ex.input.end(), batch.tokens.begin() + size_t(b) * batch.T);
    std::copy(ex.target.begin(), ex.target.end(), batch.targets.begin() + size_t(b) * batch.T);
  }
}

}  // namespace db
