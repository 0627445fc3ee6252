// sample.h: `deltabench sample`: print a few examples of a task so a user can check the data by eye
// (text) or feed it to another tool (jsonl), without training anything.
//
// The examples are exactly those a run with the same base seed sees: the split's stream seed is
// split_seed(seed, split), as for training and evaluation.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "tasks/task.h"

namespace db {

// the first n examples of `split` (fewer if the split is smaller). format "text": metadata, the
// task's readable rendering and the raw tokens/targets; format "jsonl": one object per line,
// {"input":[...],"target":[... null where ignored],"meta":{...}}. ConfigError("format") otherwise.
void print_samples(const Task& task, Split split, uint64_t seed, int64_t n, const std::string& format,
                   std::ostream& os);

}  // namespace db
