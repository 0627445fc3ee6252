// rwkv4_wkv.h: RWKV-4's WKV recurrence over one channel, in the stable form with a running maximum
// exponent (RWKV-LM's wkv_cuda.cu, which Zoology's RWKVTimeMixer calls).
//
// With decay w > 0 (w = exp(time_decay)) and bonus u (time_first), the output is
//   wkv_t = (sum_{i<t} e^{-(t-1-i) w + k_i} v_i + e^{u + k_t} v_t) / (sum_{i<t} e^{-(t-1-i) w + k_i} + e^{u + k_t}).
// The two sums are carried as a state (m, q): q = log of the denominator, m = numerator / denominator
// (the decayed weighted mean of the values so far). Every real (m, q) is then a valid state (the
// denominator e^q is positive), and both steps are sigmoids and one log-add-exp, so no exponent is
// ever positive:
//   wkv_t = m + sigmoid(u + k_t - q) (v_t - m)
//   m    <- m + sigmoid(k_t - (q - w)) (v_t - m),     q <- logaddexp(q - w, k_t)
// It is RWKV-LM's running-maximum state (a, b, p) rescaled so that b = 1 (m = a / b, q = p + log b):
// q takes the place of the running maximum p (q >= max(q_prev - w, k_t)). The empty state is
// (0, kRwkv4EmptyExponent). The backward is the exact derivative of these smooth operations.
// One channel per call; `stride` is the distance between consecutive steps in k, v, y, dk, dv (the
// channel count when they are [T, channels] buffers). Single-threaded.
#pragma once

#include "models/core/types.h"

namespace db {

// q of the empty state (as RWKV-LM's MIN_VALUE): e^{q - anything finite} is 0 in float and double
constexpr double kRwkv4EmptyExponent = -1e38;

// s0 [2] = (m, q) or null (empty); y [T] (strided); states [T+1, 2]: the state entering each step,
// then the final state
void rwkv4_wkv_forward(int T, int stride, real w, real u, const real* k, const real* v, const real* s0, real* y,
                       real* states);
// dy [T] (strided), dsT [2] or null (zero) -> dk, dv [T] (strided, overwritten), dw, du (added), ds0 [2]
// (overwritten, may be null)
void rwkv4_wkv_backward(int T, int stride, real w, real u, const real* k, const real* v, const real* states,
                        const real* dy, const real* dsT, real* dk, real* dv, real* dw, real* du, real* ds0);

}  // namespace db
