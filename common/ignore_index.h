// ignore_index.h: the target value that marks "no prediction scored here".
//
// Shared by the task generators (which write it) and the model's loss (which skips it), so neither
// library depends on the other. -100 is PyTorch's ignore_index, the value the reference datasets use.
#pragma once

#include <cstdint>

namespace db {

constexpr int32_t IGNORE = -100;

}  // namespace db
