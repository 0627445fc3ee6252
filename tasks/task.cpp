// task.cpp: shared pieces of the task contract (split seeds, default rendering).
#include "tasks/task.h"

#include <fmt/format.h>

#include "common/rng.h"

namespace db {

const char* split_name(Split s) { return s == Split::train ? "train" : "test"; }

uint64_t split_seed(uint64_t base_seed, Split split) {
  const uint64_t mixed = splitmix64(base_seed);
  const uint64_t half = uint64_t{1} << 63;
  return split == Split::train ? (mixed & (half - 1)) : (mixed | half);
}

std::string Task::describe(const Example& ex) const {
  std::string in, tg;
  for (size_t i = 0; i < ex.input.size(); ++i) {
    in += fmt::format("{}{}", i ? " " : "", ex.input[i]);
    tg += fmt::format("{}{}", i ? " " : "", ex.target[i] == IGNORE ? std::string(".") : std::to_string(ex.target[i]));
  }
  return "input:  " + in + "\ntarget: " + tg;
}

}  // namespace db
