// relative_rms.h: the one error measure the numerics tests compare outputs and gradients with.
//
// sqrt(sum (got - ref)^2 / sum ref^2): scale-free, so one tolerance serves tensors of any size and
// magnitude. A reference that is all zeros gives the absolute root of the summed squares instead.
// Got and Ref: anything indexable by size_t (vectors, pointers); ref's size sets the length.
#pragma once

#include <cmath>
#include <cstddef>

namespace db::test {

template <class Got, class Ref>
double relative_rms(const Got& got, const Ref& ref) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(got[i]) - static_cast<double>(ref[i]);
    diff += d * d;
    norm += static_cast<double>(ref[i]) * static_cast<double>(ref[i]);
  }
  return norm == 0 ? std::sqrt(diff) : std::sqrt(diff / norm);
}

}  // namespace db::test
