// selective_scan.cpp: Mamba's selective scan, token-by-token and chunked (see the header).
#include "models/kernels/selective_scan.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace db {

namespace {

size_t state_elems(const SelectiveScanInputs& in) { return size_t(in.Di) * in.N; }

// `steps` states of [Di, N] are kept in ws.h: all T (recurrent) or one chunk's (chunked)
void record_shapes(const SelectiveScanInputs& in, int steps, SelectiveScanWorkspace& ws) {
  ws.T = in.T, ws.Di = in.Di, ws.N = in.N;
  ws.h.resize(size_t(steps) * state_elems(in));
  ws.a.resize(state_elems(in));
  ws.acc.resize(state_elems(in));
}

void check_shapes(const SelectiveScanInputs& in, const SelectiveScanWorkspace& ws) {
  if (ws.T != in.T || ws.Di != in.Di || ws.N != in.N)
    throw std::logic_error("selective_scan backward: shapes differ from the forward's");
}

// H[c,n] += (dt_t[c] u_t[c]) B_t[n]
void add_input(const SelectiveScanInputs& in, int t, real* H) {
  const real* dt = in.dt + size_t(t) * in.Di;
  const real* u = in.u + size_t(t) * in.Di;
  const real* B = in.B + size_t(t) * in.N;
  for (int c = 0; c < in.Di; ++c) {
    const real x = dt[c] * u[c];
    real* row = H + size_t(c) * in.N;
    for (int n = 0; n < in.N; ++n) row[n] += x * B[n];
  }
}

// y_t[c] = sum_n H[c,n] C_t[n]
void read_out(const SelectiveScanInputs& in, int t, const real* H, real* y) {
  const real* C = in.C + size_t(t) * in.N;
  real* yt = y + size_t(t) * in.Di;
  for (int c = 0; c < in.Di; ++c) {
    const real* row = H + size_t(c) * in.N;
    real s = 0;
#pragma omp simd reduction(+ : s)
    for (int n = 0; n < in.N; ++n) s += row[n] * C[n];
    yt[c] = s;
  }
}

// G[c,n] += dy_t[c] C_t[n]: the output's gradient into the state of step t
void add_output_grad(const SelectiveScanInputs& in, int t, const real* dy, real* G) {
  const real* C = in.C + size_t(t) * in.N;
  const real* d = dy + size_t(t) * in.Di;
  for (int c = 0; c < in.Di; ++c) {
    real* row = G + size_t(c) * in.N;
    for (int n = 0; n < in.N; ++n) row[n] += d[c] * C[n];
  }
}

// e[c, n] = exp(dt[c] A[c, n]) over one [Di, N] state, with Eigen's vectorised exp: one exponential
// per state element and step is the scan's most frequent operation
void exp_dt_A(const real* dt, const real* A, int Di, int N, real* e) {
  for (int c = 0; c < Di; ++c)
    for (int n = 0; n < N; ++n) e[size_t(c) * N + n] = dt[c] * A[size_t(c) * N + n];
  VecMap all(e, Index(Di) * N);
  all = all.array().exp();
}

// x[i] *= a[i] over one [Di, N] state
void scale_by(const real* a, real* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] *= a[i];
}

// The gradients of step t given G = dL/dH_t over all paths: ddt_t, du_t, dB_t, dC_t (written) and
// dA (added). Hprev = H_{t-1} (null = zeros); e_t = exp(dt_t A) [Di, N]. M1 (may alias G) and M2
// (or null) are multiplied by the step's transition afterwards, which is how both backward forms move
// their running gradients and products one step back.
void step_backward(const SelectiveScanInputs& in, int t, const real* G, const real* Ht, const real* Hprev,
                   const real* e_t, const real* dy, real* M1, real* M2, const SelectiveScanGrads& g) {
  const int Di = in.Di, N = in.N;
  const real* dt = in.dt + size_t(t) * Di;
  const real* u = in.u + size_t(t) * Di;
  const real* B = in.B + size_t(t) * N;
  const real* dyt = dy + size_t(t) * Di;
  real* dB = g.dB + size_t(t) * N;
  real* dC = g.dC + size_t(t) * N;
  std::fill_n(dB, N, real(0));
  std::fill_n(dC, N, real(0));
  // d a / d(dt A): a = e or 2e - 1 with e = exp(dt A)
  const real slope = in.negative_eigen ? real(2) : real(1);
  for (int c = 0; c < Di; ++c) {
    const size_t off = size_t(c) * N;
    const real x = dt[c] * u[c];
    real dx = 0, ddt_decay = 0;
    // the lanes' partial sums are added in an order fixed at compile time: the same bits at any
    // thread count. No iteration reads what another writes (M1 may alias G, element by element).
#pragma omp simd reduction(+ : dx, ddt_decay)
    for (int n = 0; n < N; ++n) {
      const real gv = G[off + n];
      dx += gv * B[n];
      dB[n] += gv * x;
      dC[n] += Ht[off + n] * dyt[c];
      const real Acn = in.A[off + n];
      const real e = e_t[off + n];
      if (Hprev) {
        const real dz = gv * Hprev[off + n] * slope * e;  // dL / d(dt A)
        ddt_decay += dz * Acn;
        g.dA[off + n] += dz * dt[c];
      }
      const real a = in.negative_eigen ? real(2) * e - real(1) : e;
      M1[off + n] *= a;
      if (M2) M2[off + n] *= a;
    }
    g.ddt[size_t(t) * Di + c] = dx * u[c] + ddt_decay;
    g.du[size_t(t) * Di + c] = dx * dt[c];
  }
}

}  // namespace

void selective_scan_transition(const real* dt, const real* A, int Di, int N, bool negative_eigen, real* a) {
  exp_dt_A(dt, A, Di, N, a);
  if (negative_eigen)
    for (size_t i = 0; i < size_t(Di) * N; ++i) a[i] = real(2) * a[i] - real(1);
}

void selective_scan_recurrent_forward(const SelectiveScanInputs& in, real* y, real* ht, SelectiveScanWorkspace& ws) {
  record_shapes(in, in.T, ws);
  const size_t S = state_elems(in);
  const real* prev = in.h0;
  for (int t = 0; t < in.T; ++t) {
    real* H = ws.h.data() + size_t(t) * S;
    if (prev) {
      selective_scan_transition(in.dt + size_t(t) * in.Di, in.A, in.Di, in.N, in.negative_eigen, ws.a.data());
      for (size_t i = 0; i < S; ++i) H[i] = ws.a[i] * prev[i];
    } else {
      std::fill_n(H, S, real(0));
    }
    add_input(in, t, H);
    read_out(in, t, H, y);
    prev = H;
  }
  if (ht) {
    if (prev)
      std::copy_n(prev, S, ht);
    else
      std::fill_n(ht, S, real(0));
  }
}

void selective_scan_recurrent_backward(const SelectiveScanInputs& in, const real* dy, const real* dht,
                                       const SelectiveScanGrads& g, SelectiveScanWorkspace& ws) {
  check_shapes(in, ws);
  const size_t S = state_elems(in);
  std::fill_n(g.dA, S, real(0));
  real* G = ws.acc.data();
  if (dht)
    std::copy_n(dht, S, G);
  else
    std::fill_n(G, S, real(0));
  for (int t = in.T - 1; t >= 0; --t) {
    add_output_grad(in, t, dy, G);
    const real* Hprev = t > 0 ? ws.h.data() + size_t(t - 1) * S : in.h0;
    exp_dt_A(in.dt + size_t(t) * in.Di, in.A, in.Di, in.N, ws.a.data());
    step_backward(in, t, G, ws.h.data() + size_t(t) * S, Hprev, ws.a.data(), dy, G, nullptr, g);
  }
  if (g.dh0) std::copy_n(G, S, g.dh0);
}

namespace {

// The states H_t of chunk k (t0 <= t < t1) into ws.h [t - t0], from H_start = ws.start[k]: the local
// scan L_t from a zero state, then H_t = L_t + P_t * H_start with P_t the running product of the
// chunk's transitions. The chunk's full product P_end goes to ws.prod[k]. Outputs y_t when y is given.
void chunk_states(const SelectiveScanInputs& in, int k, int t0, int t1, real* y, SelectiveScanWorkspace& ws) {
  const size_t S = state_elems(in);
  const bool neg = in.negative_eigen;
  // the transitions enter as e = exp(dt A) (a = e or 2e - 1), kept for the second pass and the backward
  for (int t = t0; t < t1; ++t) {
    real* L = ws.h.data() + size_t(t - t0) * S;
    real* e = ws.e.data() + size_t(t - t0) * S;
    exp_dt_A(in.dt + size_t(t) * in.Di, in.A, in.Di, in.N, e);
    if (t == t0) {
      std::fill_n(L, S, real(0));
    } else {
      const real* Lp = L - S;
      for (size_t i = 0; i < S; ++i) L[i] = (neg ? real(2) * e[i] - real(1) : e[i]) * Lp[i];
    }
    add_input(in, t, L);
  }
  const real* H0 = ws.start.data() + size_t(k) * S;
  real* P = ws.prod.data() + size_t(k) * S;
  std::fill_n(P, S, real(1));
  for (int t = t0; t < t1; ++t) {
    real* H = ws.h.data() + size_t(t - t0) * S;
    const real* e = ws.e.data() + size_t(t - t0) * S;
    for (size_t i = 0; i < S; ++i) {
      P[i] *= neg ? real(2) * e[i] - real(1) : e[i];
      H[i] += P[i] * H0[i];
    }
    if (y) read_out(in, t, H, y);
  }
}

}  // namespace

void selective_scan_chunk_forward(const SelectiveScanInputs& in, real* y, real* ht, SelectiveScanWorkspace& ws) {
  const size_t S = state_elems(in);
  const int C = std::max(1, in.chunk);
  const int nc = (in.T + C - 1) / C;
  record_shapes(in, std::min(C, in.T), ws);
  ws.e.resize(size_t(std::min(C, in.T)) * S);
  ws.prod.resize(size_t(nc) * S);
  ws.start.resize(size_t(nc) * S);
  // chunk by chunk: its states from the state entering it, whose last one enters the next chunk.
  // Only the entering states are kept; the backward recomputes a chunk's states from them.
  if (in.h0)
    std::copy_n(in.h0, S, ws.start.data());
  else
    std::fill_n(ws.start.data(), S, real(0));
  for (int k = 0; k < nc; ++k) {
    const int t0 = k * C, t1 = std::min(in.T, t0 + C);
    chunk_states(in, k, t0, t1, y, ws);
    const real* last = ws.h.data() + size_t(t1 - 1 - t0) * S;
    std::copy_n(last, S, k + 1 < nc ? ws.start.data() + size_t(k + 1) * S : ws.acc.data());
  }
  if (ht) {
    if (nc > 0)
      std::copy_n(ws.acc.data(), S, ht);
    else if (in.h0)
      std::copy_n(in.h0, S, ht);
    else
      std::fill_n(ht, S, real(0));
  }
}

void selective_scan_chunk_backward(const SelectiveScanInputs& in, const real* dy, const real* dht,
                                   const SelectiveScanGrads& g, SelectiveScanWorkspace& ws) {
  check_shapes(in, ws);
  const size_t S = state_elems(in);
  const int C = std::max(1, in.chunk);
  const int nc = (in.T + C - 1) / C;
  ws.g.resize(2 * S);
  ws.out.resize(size_t(nc) * S);
  ws.gend.resize(size_t(nc) * S);
  std::fill_n(g.dA, S, real(0));

  // 1. every chunk on its own: the reverse scan of dy_t C_t^T from a zero gradient at the chunk end;
  //    what it sends into the state before the chunk is kept (out)
  for (int k = 0; k < nc; ++k) {
    const int t0 = k * C, t1 = std::min(in.T, t0 + C);
    real* L = ws.out.data() + size_t(k) * S;
    std::fill_n(L, S, real(0));
    for (int t = t1 - 1; t >= t0; --t) {
      add_output_grad(in, t, dy, L);
      selective_scan_transition(in.dt + size_t(t) * in.Di, in.A, in.Di, in.N, in.negative_eigen, ws.a.data());
      scale_by(ws.a.data(), L, S);
    }
  }

  // 2. the boundaries in reverse: the gradient at a chunk's last state (gend) and before its first
  real* carry = ws.acc.data();
  if (dht)
    std::copy_n(dht, S, carry);
  else
    std::fill_n(carry, S, real(0));
  for (int k = nc - 1; k >= 0; --k) {
    std::copy_n(carry, S, ws.gend.data() + size_t(k) * S);
    const real* P = ws.prod.data() + size_t(k) * S;
    const real* out = ws.out.data() + size_t(k) * S;
    for (size_t i = 0; i < S; ++i) carry[i] = out[i] + P[i] * carry[i];
  }
  if (g.dh0) std::copy_n(carry, S, g.dh0);

  // 3. every step: the chunk's states recomputed as the forward made them, then
  //    G_t = L_t + R_t * G_end, with the local reverse scan L_t redone alongside R_t, the product of
  //    the chunk's later transitions (cheaper than keeping every L_t)
  real* R = ws.acc.data();
  real* L = ws.g.data();
  real* G = ws.g.data() + S;
  for (int k = 0; k < nc; ++k) {
    const int t0 = k * C, t1 = std::min(in.T, t0 + C);
    chunk_states(in, k, t0, t1, nullptr, ws);
    const real* Gend = ws.gend.data() + size_t(k) * S;
    std::fill_n(R, S, real(1));
    std::fill_n(L, S, real(0));
    for (int t = t1 - 1; t >= t0; --t) {
      add_output_grad(in, t, dy, L);
      for (size_t i = 0; i < S; ++i) G[i] = L[i] + R[i] * Gend[i];
      const real* Hprev = t > t0 ? ws.h.data() + size_t(t - 1 - t0) * S : ws.start.data() + size_t(k) * S;
      step_backward(in, t, G, ws.h.data() + size_t(t - t0) * S, Hprev, ws.e.data() + size_t(t - t0) * S, dy, R, L, g);
    }
  }
}

}  // namespace db
