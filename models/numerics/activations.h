// activations.h: the scalar activations shared by layers and mixers, with their derivatives.
//
// Inline templates so float and double builds (and double accumulators inside float code) use the
// same formulas. sigmoid is written in the form that never overflows exp(); softplus follows fla's
// gate (identity above 20, where log1p(exp(x)) == x in fp32 anyway). The GPU kernels include this
// header too (DB_HOST_DEVICE), so both backends evaluate one set of formulas.
#pragma once

#include <cmath>

#ifdef __CUDACC__
#define DB_HOST_DEVICE __host__ __device__
#else
#define DB_HOST_DEVICE
#endif

namespace db {

template <class T>
DB_HOST_DEVICE inline T sigmoid(T x) {
  // exp of a non-positive number only, so large |x| gives 0 or 1 instead of inf/nan
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

// d sigmoid / dx = s (1 - s)
template <class T>
DB_HOST_DEVICE inline T sigmoid_grad(T x) {
  const T s = sigmoid(x);
  return s * (T(1) - s);
}

// silu(x) = x sigmoid(x) (fla's 'swish')
template <class T>
DB_HOST_DEVICE inline T silu(T x) {
  return x * sigmoid(x);
}

// d silu / dx = s + x s (1 - s) = s (1 + x (1 - s)), given s = sigmoid(x) already computed
template <class T>
DB_HOST_DEVICE inline T silu_grad_from_sigmoid(T x, T s) {
  return s * (T(1) + x * (T(1) - s));
}

template <class T>
DB_HOST_DEVICE inline T silu_grad(T x) {
  return silu_grad_from_sigmoid(x, sigmoid(x));
}

// softplus(x) = log(1 + e^x); identity above 20 as in fla/ops/gated_delta_rule/gate.py
template <class T>
DB_HOST_DEVICE inline T softplus(T x) {
  return x > T(20) ? x : std::log1p(std::exp(x));
}

// d softplus / dx = sigmoid(x); exactly 1 above 20 to match the identity branch
template <class T>
DB_HOST_DEVICE inline T softplus_grad(T x) {
  return x > T(20) ? T(1) : sigmoid(x);
}

// gelu(x) = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, the exact form (PyTorch's nn.GELU default)
template <class T>
DB_HOST_DEVICE inline T gelu(T x) {
  return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
}

// d gelu / dx = Phi(x) + x phi(x), phi the standard normal density
template <class T>
DB_HOST_DEVICE inline T gelu_grad(T x) {
  const T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
  return cdf + x * T(0.39894228040143267794) * std::exp(T(-0.5) * x * x);
}

}  // namespace db
