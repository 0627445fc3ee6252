// task.cpp: shared pieces of the task contract (split seeds, default rendering).
#include "tasks/task.h"

#include <fmt/format.h>
#include <unistd.h>

#include "common/rng.h"

namespace db {

void check_examples_fit_in_memory(const Task& task, Split split, int64_t examples) {
  // two int32 arrays per example plus the vectors' and the metadata map's own overhead
  const double bytes = static_cast<double>(examples) * (8.0 * task.max_input_length() + 160.0);
  const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
  if (memory > 0 && bytes > memory)
    throw ConfigError(split == Split::train ? "train_examples" : "test_examples",
                      fmt::format("{} examples of up to {} tokens need about {:.0f} GB, more than this machine's {:.0f} GB",
                                  examples, task.max_input_length(), bytes / 1e9, memory / 1e9));
}

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
