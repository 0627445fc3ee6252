// sample.h: `deltabench sample TASK ...`: print examples of a task without training.
//
// Task keys come as --set key=value (task.key=value works too) and are validated exactly as in an
// experiment file; the examples are the ones a run with the same seed trains or is tested on.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace db {

struct SampleArgs {
  std::string task;
  std::vector<std::string> sets;  // "key=value" task options
  int64_t n = 3;
  std::string split = "train";    // train | test
  uint64_t seed = 0;
  std::string format = "text";    // text | jsonl
};

// exit code: 0 ok, 2 bad input
int sample_command(const SampleArgs& args, std::ostream& out, std::ostream& err);

}  // namespace db
