// xlstm_common.h: small pieces shared by the xLSTM mixers (mlstm.cpp, slstm.cpp): reading their
// shape options, and the log-space gate functions.
//
// Both cells keep their gates in log space and carry a stabiliser m, so both need log sigmoid
// (the log forget gate) in a form that neither overflows nor loses the small values near 0 that a
// forget gate with a large bias produces.
#pragma once

#include <fmt/format.h>

#include <cmath>

#include "models/core/registry.h"
#include "models/numerics/activations.h"

namespace db {

// an xLSTM layer's head size (d_model / num_heads) and short-convolution width (conv_size, or 0
// without use_short_conv), read from its options and checked
struct XlstmShape {
  int head_dim = 0;
  int conv_width = 0;
};

inline XlstmShape xlstm_shape(int d_model, const Options& o) {
  const int64_t heads = o.get_int("num_heads");
  if (heads < 1 || d_model % heads != 0)
    throw ConfigError("num_heads", fmt::format("d_model {} must be divisible by num_heads {}", d_model, heads));
  XlstmShape shape;
  shape.head_dim = d_model / static_cast<int>(heads);
  if (o.get_bool("use_short_conv")) {
    shape.conv_width = static_cast<int>(o.get_int("conv_size"));
    if (shape.conv_width < 2) throw ConfigError("conv_size", "'conv_size' must be >= 2");
  }
  return shape;
}

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
