// state_tracking.h: the registry entries of the state-tracking tasks, and the per-example seed rule
// they share.
//
// Tasks (see docs/task-protocols.md, sections C and D):
//   parity, modular_arithmetic, modular_arithmetic_brackets  Grazzi et al. (ICLR 2025) "Chomsky"
//       tasks, after xlstm/experiments/data/formal_language/tasks/{parity,modular_arithmetic,
//       modular_arithmetic_with_brackets}.py (tasks/state_tracking/formal_language.h)
//   word_problem  group word problems S3/S4/A5/S5, after automl/DeltaProduct src/generate_data.py
//       (itself after jopetty/word-problem) (tasks/state_tracking/word_problem.cpp)
#pragma once

#include <cstdint>

#include "tasks/task.h"

namespace db {


namespace state_tracking {

// Seed of example `index` of a split whose stream is `split_seed`. Every example owns its own
// generator (the source seeds example i with base_seed + i), so generate(first, count) does not
// depend on how a range is cut into calls, and fresh epochs only need a fresh split seed.
uint64_t example_seed(uint64_t split_seed, int64_t index);

}  // namespace state_tracking
}  // namespace db
