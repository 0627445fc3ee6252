// gated_delta_rule.h: the gated delta rule kernel family (DeltaNet, Gated DeltaNet, DeltaProduct).
//
// One kernel covers all three mixers (math: docs/delta-rule-math.md sections 3-7):
//   per token t:  S <- exp(g_t) S                                  (g == nullptr means g_t = 0)
//                 for j < n_h:  p = t*n_h + j
//                               S <- S + k_p (beta_p (v_p - S^T k_p))^T
//                 o_t = S^T (scale q_t)                            (read after the last sub-step)
// with the state S in [K,V] layout and S_0 = h0 (or zeros). g = nullptr, n_h = 1 is DeltaNet; g
// given, n_h = 1 is Gated DeltaNet; n_h > 1 is (Gated) DeltaProduct, whose sub-steps are simply
// extra delta steps on the interleaved sequence of P = T*n_h positions.
//
// Every function works on ONE (batch, head) sequence held in contiguous row-major buffers and is
// single-threaded; the caller parallelises over batch x head (each thread with its own
// workspace). Two implementations share one signature so they can be swapped and compared:
//   gated_delta_rule_recurrent_*  token-by-token reference with BPTT (section 3). The forward
//       saves the state every kRecurrentSegment tokens; the backward re-runs each segment from its
//       checkpoint, so memory is O(T/64 * K*V) instead of O(T*K*V).
//   gated_delta_rule_chunk_*      chunkwise WY/UT form (sections 4-7): dense Eigen products on
//       blocks of C interleaved positions (any T; the last chunk may be partial). The forward
//       SAVES per chunk the start state S_c, T^ = (I+A)^-1, W and Vn = U - W S_c and the local
//       cumsum G; the backward reuses them and recomputes nothing sequential (it only redoes the
//       cheap per-chunk products Q K^T, diag(beta)V, ...). Memory per sequence:
//       P*(C + K + V + 1) + ceil(P/C)*K*V reals.
// Contract for both: call *_backward after *_forward with the same inputs and the same workspace;
// the backward checks the shapes it was given against what the forward recorded and throws
// std::logic_error on a mismatch. A workspace only grows, so reusing it across steps (same shapes)
// performs no heap allocation.
#pragma once

#include <vector>

#include "models/core/types.h"

namespace db {

// One (batch, head) sequence. Legend: T tokens, K key dim, V value dim, P = T*n_h positions.
struct DeltaRuleInputs {
  Index T = 0, K = 0, V = 0;
  Index n_h = 1;             // Householder sub-steps per token (>= 1)
  Index chunk = 64;          // chunk path only: C, counted in interleaved positions (16/32/64 usual; any >= 1 works)
  real scale = 0;            // output scale; 0 selects K^-0.5
  const real* q = nullptr;     // [T, K]  already L2-normalised
  const real* k = nullptr;     // [P, K]  already L2-normalised; row t*n_h+j = sub-step j of token t
  const real* v = nullptr;     // [P, V]
  const real* beta = nullptr;  // [P]     in (0, 2] for a stable state
  const real* g = nullptr;     // [T]     natural-log decay <= 0, applied before sub-step 0; nullptr = no gate
  const real* h0 = nullptr;    // [K, V]  initial state; nullptr = zeros

  real effective_scale() const;
  Index positions() const { return T * n_h; }
};

// Gradient outputs (all overwritten). dq, dk, dv, dbeta are required; dg is required (and written)
// exactly when inputs.g is given; dh0 = nullptr skips it.
struct DeltaRuleGrads {
  real* dq = nullptr;     // [T, K]
  real* dk = nullptr;     // [P, K]
  real* dv = nullptr;     // [P, V]
  real* dbeta = nullptr;  // [P]
  real* dg = nullptr;     // [T]
  real* dh0 = nullptr;    // [K, V]
};

// Saved forward state plus scratch, reused between calls. Treat as opaque; the fields are public
// only so the two .cpp files and tests can see what is kept.
struct DeltaRuleWorkspace {
  // which forward filled the saved state, checked by the backward
  enum class Form { none, recurrent, chunk } form = Form::none;
  Index T = 0, K = 0, V = 0, n_h = 0, chunk = 0;
  bool gated = false;

  // --- chunk form, saved by the forward ---
  RealVector chunk_states;  // [N, K, V]  S_c at the start of chunk c (N = ceil(P/C))
  RealVector t_hat;         // [P, C]     rows of chunk c hold its L x L inverse (I+A)^-1, row stride C
  RealVector w;             // [P, K]     W = T^ diag(beta e^G) K
  RealVector v_new;         // [P, V]     Vn = U - W S_c (row i is delta_i of the recurrence)
  RealVector g_cum;         // [P]        chunk-local cumsum G of the interleaved gate
  // --- chunk form, scratch (sizes C x C, C x K, C x V, C) ---
  RealVector cc0, cc1, cc2, cc3;
  RealVector ck0, ck1, ck2, ck3, ck4;
  RealVector cv0, cv1, cv2;
  RealVector c0, c1, c2, c3;
  RealVector kv0;  // [K, V]

  // --- recurrent form ---
  RealVector checkpoints;   // [ceil(T/seg), K, V] state before the gate of each segment's first token
  RealVector seg_states;    // [seg*n_h, K, V] pre-update state S~ of each position in a segment
  RealVector seg_delta;     // [seg*n_h, V]    delta = beta u
  RealVector seg_u;         // [seg*n_h, V]    u = v - S~^T k
  RealVector state, dstate, tmp_kv;  // [K, V]
  RealVector tmp_v;                  // [V]

  // heap bytes held (for memory accounting by callers)
  size_t bytes() const;
};

// tokens per recurrent checkpoint segment
inline constexpr Index kRecurrentSegment = 64;

// --- recurrent reference (section 3) ---
// o: [T, V] written; ht: [K, V] final state or nullptr.
void gated_delta_rule_recurrent_forward(const DeltaRuleInputs& in, real* o, real* ht, DeltaRuleWorkspace& ws);
// d_o: [T, V]; dht: [K, V] or nullptr (zero). Gradients of sum(o*d_o) + sum(ht*dht).
void gated_delta_rule_recurrent_backward(const DeltaRuleInputs& in, const real* d_o, const real* dht,
                                         const DeltaRuleGrads& grads, DeltaRuleWorkspace& ws);

// --- chunkwise WY/UT form (sections 4-7), chunk length in.chunk ---
void gated_delta_rule_chunk_forward(const DeltaRuleInputs& in, real* o, real* ht, DeltaRuleWorkspace& ws);
void gated_delta_rule_chunk_backward(const DeltaRuleInputs& in, const real* d_o, const real* dht,
                                     const DeltaRuleGrads& grads, DeltaRuleWorkspace& ws);

// Floating-point operations the chunk implementation executes for one sequence (dense products
// counted as 2*m*n*k as they are run, elementwise work ignored); see the formula in the .cpp.
double gated_delta_rule_chunk_flops(Index T, Index K, Index V, Index n_h, Index chunk, bool with_backward);

}  // namespace db
