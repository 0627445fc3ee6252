// selective_scan.h: Mamba's selective scan (S6) over one batch row, in two exact forms.
//
// For every channel c < Di and state index n < N (a diagonal SSM, all channels of one batch row at
// once, so the state is an [Di, N] matrix H):
//   a_t[c,n] = exp(dt_t[c] A[c,n])                    eigen range [0, 1] (Mamba)
//   a_t[c,n] = 2 exp(dt_t[c] A[c,n]) - 1              eigen range [-1, 1] (Grazzi et al. 2025)
//   H_t      = a_t * H_{t-1} + (dt_t * u_t) B_t^T     (* elementwise; the input term is an outer product)
//   y_t      = H_t C_t                                ([Di]; the D skip and the gate are the mixer's)
// with H_{-1} = h0 (or zeros). In the [-1, 1] range a_t can be negative or exactly zero, so neither
// form divides by a transition or takes its log:
//   *_recurrent_*  the token-by-token reference; the backward walks time in reverse with
//                  G = dL/dH_t (G += dy_t C_t^T, gradients, G = a_t * G).
//   *_chunk_*      per chunk of `chunk` steps: a local scan from a zero state (L_t) and the running
//                  product of transitions (P_t = a_t * ... * a_{t0}); the chunk boundaries are then
//                  carried in order (H_end = L_end + P_end * H_start) and every step corrected,
//                  H_t = L_t + P_t * H_start. The backward mirrors it: a local reverse scan of dy_t C_t^T
//                  from zero at the chunk end, the gradient carried backwards over the boundaries,
//                  and G_t = dL_t + R_t * G_end with R_t = a_{t+1} * ... * a_{t1-1}. The local scans
//                  of different chunks are independent (the parallel form); here they run in order.
//                  Memory: the forward keeps only the state entering each chunk and the backward
//                  recomputes a chunk's states from it, so O((T/C + C) Di N) per row instead of
//                  the recurrent reference's O(T Di N).
// Shapes: T steps, Di channels, N state size; all buffers contiguous row-major. Each function is
// single-threaded; the mixer runs batch rows in parallel, each with its own workspace.
// Contract: *_backward follows *_forward with the same inputs and workspace.
#pragma once

#include "models/core/types.h"

namespace db {

struct SelectiveScanInputs {
  int T = 0, Di = 0, N = 0;
  int chunk = 64;               // chunk length of the chunked form
  bool negative_eigen = false;  // transition 2 exp(dt A) - 1 instead of exp(dt A)
  const real* dt = nullptr;     // [T, Di] step sizes (after softplus)
  const real* u = nullptr;      // [T, Di] scan input (after conv + SiLU)
  const real* B = nullptr;      // [T, N] input matrix per step
  const real* C = nullptr;      // [T, N] output matrix per step
  const real* A = nullptr;      // [Di, N] continuous-time diagonal (negative)
  const real* h0 = nullptr;     // [Di, N] initial state or null (zeros)
};

struct SelectiveScanGrads {
  real* ddt = nullptr;  // [T, Di] overwritten
  real* du = nullptr;   // [T, Di] overwritten
  real* dB = nullptr;   // [T, N] overwritten
  real* dC = nullptr;   // [T, N] overwritten
  real* dA = nullptr;   // [Di, N] overwritten (this row's contribution)
  real* dh0 = nullptr;  // [Di, N] overwritten, or null
};

struct SelectiveScanWorkspace {
  RealVector h;       // recurrent: [T, Di, N] the state after every step; chunked: [C, Di, N] one chunk's
  RealVector a;       // [Di, N] one step's transition
  RealVector e;       // [C, Di, N] chunked: exp(dt A) of one chunk's steps
  RealVector acc;     // [Di, N] running gradient / product / final state
  RealVector g;       // [2, Di, N] chunk backward: the local reverse scan and dL/dH_t of one step
  RealVector prod;    // [n_chunks, Di, N] product of each chunk's transitions (chunk form)
  RealVector start;   // [n_chunks, Di, N] state entering each chunk (chunk form), read by the backward
  RealVector gend;    // [n_chunks, Di, N] chunk backward: the gradient at each chunk's last state
  RealVector out;     // [n_chunks, Di, N] chunk backward: a chunk's own gradient into the previous state
  int T = 0, Di = 0, N = 0;  // shapes of the last forward
};

// a[Di, N] = exp(dt[c] A[c,n]), or 2 exp(dt[c] A[c,n]) - 1 when negative_eigen
void selective_scan_transition(const real* dt, const real* A, int Di, int N, bool negative_eigen, real* a);

// y [T, Di]; ht [Di, N] final state or null
void selective_scan_recurrent_forward(const SelectiveScanInputs& in, real* y, real* ht, SelectiveScanWorkspace& ws);
void selective_scan_chunk_forward(const SelectiveScanInputs& in, real* y, real* ht, SelectiveScanWorkspace& ws);
// dy [T, Di]; dht [Di, N] or null (zero)
void selective_scan_recurrent_backward(const SelectiveScanInputs& in, const real* dy, const real* dht,
                                       const SelectiveScanGrads& g, SelectiveScanWorkspace& ws);
void selective_scan_chunk_backward(const SelectiveScanInputs& in, const real* dy, const real* dht,
                                   const SelectiveScanGrads& g, SelectiveScanWorkspace& ws);

}  // namespace db
