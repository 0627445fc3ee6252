// linear_attention.h: causal (ungated) linear attention, recurrent reference and chunkwise form.
//
// The baseline the delta rule is compared with: the state only accumulates,
//   S_t = S_{t-1} + k_t v_t^T,   o_t = S_t^T (scale q_t),   S_0 = h0 (or zeros), state [K,V],
// so a key written twice returns the sum of its values. Same conventions as gated_delta_rule.h:
// one (batch, head) sequence, contiguous row-major buffers, single-threaded, forward then backward
// on the same workspace (the chunk backward reuses the per-chunk start states S_c saved by the
// forward; the recurrent backward needs nothing saved, see the .cpp).
// Chunk form per chunk of L rows: O = scale (Q S_c + tril_incl(Q K^T) V),  S_{c+1} = S_c + K^T V.
#pragma once

#include <vector>

#include "models/core/types.h"

namespace db {

// Legend: T tokens, K key dim, V value dim.
struct LinearAttentionInputs {
  Index T = 0, K = 0, V = 0;
  Index chunk = 64;          // chunk path only (16/32/64 usual; any >= 1 works)
  real scale = 0;            // 0 selects K^-0.5
  const real* q = nullptr;   // [T, K]
  const real* k = nullptr;   // [T, K]
  const real* v = nullptr;   // [T, V]
  const real* h0 = nullptr;  // [K, V] or nullptr (zeros)

  real effective_scale() const;
};

// all overwritten; dh0 may be nullptr
struct LinearAttentionGrads {
  real* dq = nullptr;   // [T, K]
  real* dk = nullptr;   // [T, K]
  real* dv = nullptr;   // [T, V]
  real* dh0 = nullptr;  // [K, V]
};

struct LinearAttentionWorkspace {
  enum class Form { none, recurrent, chunk } form = Form::none;
  Index T = 0, K = 0, V = 0, chunk = 0;
  RealVector chunk_states;  // [N, K, V] S_c at the start of chunk c
  RealVector state;         // [K, V]
  RealVector att;           // [C, C]
  RealVector scaled_do;     // [V] recurrent backward scratch
};

void linear_attention_recurrent_forward(const LinearAttentionInputs& in, real* o, real* ht, LinearAttentionWorkspace& ws);
void linear_attention_recurrent_backward(const LinearAttentionInputs& in, const real* d_o, const real* dht,
                                         const LinearAttentionGrads& grads, LinearAttentionWorkspace& ws);
void linear_attention_chunk_forward(const LinearAttentionInputs& in, real* o, real* ht, LinearAttentionWorkspace& ws);
void linear_attention_chunk_backward(const LinearAttentionInputs& in, const real* d_o, const real* dht,
                                     const LinearAttentionGrads& grads, LinearAttentionWorkspace& ws);

// products executed by the chunk form (2mnk each), as for gated_delta_rule_chunk_flops
double linear_attention_chunk_flops(Index T, Index K, Index V, Index chunk, bool with_backward);

}  // namespace db
