// xlstm_common.h: small pieces shared by the xLSTM mixers (mlstm.cpp, slstm.cpp).
//
// Both cells keep their gates in log space and carry a stabiliser m, so both need log sigmoid
// (the log forget gate) in a form that neither overflows nor loses the small values near 0 that a
// forget gate with a large bias produces.
#pragma once

#include <cmath>

#include "models/numerics/activations.h"

namespace db {

// log sigmoid(x) = min(x, 0) - log1p(exp(-|x|)), exact for large |x| of either sign
template <class T>
inline T log_sigmoid(T x) {
  return std::min(x, T(0)) - std::log1p(std::exp(-std::abs(x)));
}

// d log sigmoid(x) / dx = sigmoid(-x)
template <class T>
inline T log_sigmoid_grad(T x) {
  return sigmoid(-x);
}

}  // namespace db
