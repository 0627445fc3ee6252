// rwkv4_wkv.cpp: RWKV-4's WKV recurrence and its exact backward (see the header).
#include "models/kernels/rwkv4_wkv.h"

#include <cmath>

#include "models/numerics/activations.h"

namespace db {

void rwkv4_wkv_forward(int T, int stride, real w, real u, const real* k, const real* v, const real* s0, real* y,
                       real* states) {
  real m = s0 ? s0[0] : real(0);
  real q = s0 ? s0[1] : static_cast<real>(kRwkv4EmptyExponent);
  for (int t = 0; t < T; ++t) {
    states[2 * t] = m, states[2 * t + 1] = q;
    const real kt = k[size_t(t) * stride], vt = v[size_t(t) * stride];
    // the current token enters the output with the bonus u, the state without it
    y[size_t(t) * stride] = m + sigmoid(u + kt - q) * (vt - m);
    const real decayed = q - w, z = kt - decayed;
    m += sigmoid(z) * (vt - m);
    q = std::max(decayed, kt) + std::log1p(std::exp(-std::abs(z)));
  }
  states[2 * T] = m, states[2 * T + 1] = q;
}

void rwkv4_wkv_backward(int T, int stride, real w, real u, const real* k, const real* v, const real* states,
                        const real* dy, const real* dsT, real* dk, real* dv, real* dw, real* du, real* ds0) {
  // gradient of the state after the current step
  real dm_next = dsT ? dsT[0] : real(0), dq_next = dsT ? dsT[1] : real(0);
  real dw_sum = 0, du_sum = 0;
  for (int t = T - 1; t >= 0; --t) {
    const real m = states[2 * t], q = states[2 * t + 1];
    const real kt = k[size_t(t) * stride], vt = v[size_t(t) * stride];

    // state update: m' = alpha m + beta v, q' = logaddexp(q - w, k) with beta = sigmoid(k - q + w)
    const real z = kt - (q - w);
    const real beta = sigmoid(z), alpha = sigmoid(-z);
    const real dz = dm_next * (vt - m) * beta * alpha;
    real dm = dm_next * alpha;
    real dvt = dm_next * beta;
    real dkt = dz + dq_next * beta;
    const real d_decayed = -dz + dq_next * alpha;
    real dq = d_decayed;
    dw_sum -= d_decayed;

    // output: y = m + gamma (v - m), gamma = sigmoid(u + k - q)
    const real zeta = u + kt - q;
    const real gamma = sigmoid(zeta), gamma_c = sigmoid(-zeta);
    const real g = dy[size_t(t) * stride];
    dm += g * gamma_c;
    dvt += g * gamma;
    const real dzeta = g * (vt - m) * gamma * gamma_c;
    du_sum += dzeta;
    dkt += dzeta;
    dq -= dzeta;

    dk[size_t(t) * stride] = dkt;
    dv[size_t(t) * stride] = dvt;
    dm_next = dm, dq_next = dq;
  }
  *dw += dw_sum;
  *du += du_sum;
  if (ds0) ds0[0] = dm_next, ds0[1] = dq_next;
}

}  // namespace db
