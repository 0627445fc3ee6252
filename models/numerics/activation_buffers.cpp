// activation_buffers.cpp: vectorised sigmoid / SiLU over buffers (see activation_buffers.h).
//
// exp(-x) overflows to a large or infinite value for x -> -inf (Eigen clamps its argument), and
// 1 / (1 + that) is 0, as the scalar form gives; x -> +inf gives exp(-x) = 0 and 1. No nan either way.
#include "models/numerics/activation_buffers.h"

#include <algorithm>

#include "models/numerics/activations.h"

// GCC 12's avx512fintrin.h initialises the undefined operand of _mm512_min_pd/_max_pd as `__Y = __Y`,
// which -Wmaybe-uninitialized reports inside Eigen's double exp (-march=native on AVX-512 machines); a
// false positive in a system header. Clang has no such warning.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace db {
namespace {

constexpr Index kChunk = 256;
using ArrayR = Eigen::Array<real, Eigen::Dynamic, 1>;

void sigmoid_chunk(const real* x, real* s, Index n) {
  Eigen::Map<const ArrayR> xa(x, n);
  Eigen::Map<ArrayR>(s, n) = (real(1) + (-xa).exp()).inverse();
}

// f(offset, count, s) for consecutive chunks, s[j] = sigmoid(x[offset + j]) in aligned scratch
template <class F>
void for_each_sigmoid_chunk(const real* x, Index n, F&& f) {
  alignas(64) real s[kChunk];
  for (Index i0 = 0; i0 < n; i0 += kChunk) {
    const Index m = std::min(kChunk, n - i0);
    sigmoid_chunk(x + i0, s, m);
    f(i0, m, s);
  }
}

}  // namespace

void sigmoid_buffer(const real* x, real* s, Index n) {
  for_each_sigmoid_chunk(x, n, [&](Index i0, Index m, const real* sc) { std::copy(sc, sc + m, s + i0); });
}

void silu_buffer(const real* x, real* y, Index n) {
  for_each_sigmoid_chunk(x, n, [&](Index i0, Index m, const real* sc) {
    for (Index j = 0; j < m; ++j) y[i0 + j] = x[i0 + j] * sc[j];
  });
}

void silu_backward_buffer(const real* x, const real* dy, real* dx, Index n) {
  for_each_sigmoid_chunk(x, n, [&](Index i0, Index m, const real* sc) {
    for (Index j = 0; j < m; ++j) dx[i0 + j] = dy[i0 + j] * silu_grad_from_sigmoid(x[i0 + j], sc[j]);
  });
}

}  // namespace db
