// random_inputs.h: the random inputs the kernel tests feed the recurrences, shared so that every test
// (CPU chunk vs recurrent, GPU vs CPU) draws them one way.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "common/rng.h"

namespace db::test {

// n standard-normal floats
inline std::vector<float> normal(Rng& rng, size_t n) {
  std::vector<float> x(n);
  for (auto& e : x) e = static_cast<float>(rng.normal());
  return x;
}

// [rows, cols] with rows of unit length, as the mixers feed q and k (L2-normalised)
inline std::vector<float> unit_rows(Rng& rng, size_t rows, size_t cols) {
  std::vector<float> x(rows * cols);
  for (size_t r = 0; r < rows; ++r) {
    double n = 0;
    for (size_t j = 0; j < cols; ++j) {
      x[r * cols + j] = static_cast<float>(rng.normal());
      n += double(x[r * cols + j]) * x[r * cols + j];
    }
    for (size_t j = 0; j < cols; ++j) x[r * cols + j] = static_cast<float>(x[r * cols + j] / std::sqrt(n));
  }
  return x;
}

}  // namespace db::test
