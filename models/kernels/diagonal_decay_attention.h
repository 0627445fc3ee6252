// diagonal_decay_attention.h: linear attention whose state decays per key channel (GLA, RetNet).
//
// One (batch, head) sequence, state S [K, V], S_0 = h0 (or zeros):
//   S_t = diag(exp(g_t)) S_{t-1} + k_t v_t^T,      o_t = S_t^T (scale q_t),
// with g_t [K] natural-log decays <= 0. Gated linear attention (Yang et al. 2024) feeds a
// data-dependent g_t; RetNet feeds the constant log(gamma_h) in every channel.
//
// Two forms with one signature, so they can be swapped and compared (test_mixer_modes):
//   *_recurrent_*  token-by-token reference. The forward keeps every state S_0..S_T ((T+1)*K*V
//       reals per sequence) and the backward walks time in reverse with dS = dL/dS_t:
//         dq_t = scale S_t do_t;  dS += scale q_t do_t^T;  dk_t = dS v_t;  dv_t = dS^T k_t;
//         dg_t = exp(g_t) o rowsum(S_{t-1} o dS);  dS = diag(exp(g_t)) dS.
//   *_chunk_*  chunkwise form on blocks of L <= C rows. With b_i = sum_{j<=i} g_j the cumulative
//       log decay inside the chunk (so b_i - b_j <= 0 for j <= i, and every exponential below is
//       of a non-positive number: no overflow however strong the decay):
//         O   = scale ((Q o exp(B)) S_c + A V),   A_ij = sum_k q_ik k_jk exp(b_ik - b_jk), j <= i,
//         S_{c+1} = diag(exp(b_last)) S_c + (K o exp(b_last - B))^T V.
//       A is built by sub-blocks of 16 rows, as fla's secondary chunking does: inside a sub-block
//       one exponential per (i, j, k); against the earlier rows of the chunk a matrix product
//       (Q o exp(B_I - b_r)) (K o exp(b_r - B_J))^T through the row r just before the sub-block,
//       where j <= r < i makes both factors <= 1. No exponent is ever positive, never exp(-b) alone.
//       The forward saves S_c per chunk; the backward is one reverse pass over chunks.
// The caller parallelises over sequences (one workspace per thread); everything here is serial.
#pragma once

#include "models/core/types.h"

namespace db {

// Legend: T tokens, K key dim, V value dim, C chunk length.
struct DecayAttentionInputs {
  Index T = 0, K = 0, V = 0;
  Index chunk = 64;          // chunk form only
  real scale = 0;            // 0 selects K^-0.5
  const real* q = nullptr;   // [T, K]
  const real* k = nullptr;   // [T, K]
  const real* v = nullptr;   // [T, V]
  const real* g = nullptr;   // [T, K] log decay <= 0 per key channel
  const real* h0 = nullptr;  // [K, V] or null (zeros)

  real effective_scale() const;
};

// all overwritten; dg may be null when the decay needs no gradient (RetNet); dh0 may be null
struct DecayAttentionGrads {
  real* dq = nullptr;   // [T, K]
  real* dk = nullptr;   // [T, K]
  real* dv = nullptr;   // [T, V]
  real* dg = nullptr;   // [T, K] or null
  real* dh0 = nullptr;  // [K, V] or null
};

struct DecayAttentionWorkspace {
  RealVector states;  // recurrent: [T+1, K, V] S_0..S_T; chunk: [N+1, K, V] S_c at chunk starts
  RealVector dS;      // [K, V] state gradient walking backwards
  RealVector b;       // [C, K] cumulative log decay of the current chunk
  RealVector qd, kd;  // [C, K] Q o exp(B), K o exp(b_last - B)
  RealVector att;     // [C, C] A, then dA
  RealVector dqd, dkd, db;  // [C, K]
  RealVector qs, e, dqs;    // [16, K] one sub-block's q o exp(b - b_r), its factor, its gradient
  RealVector kp, f, dkp;    // [C, K] the earlier rows' k o exp(b_r - b), its factor, its gradient
  RealVector w, p;          // [K] one (i, j) pair's exp(b_i - b_j) terms inside a sub-block
};

void decay_attention_recurrent_forward(const DecayAttentionInputs& in, real* o, real* ht, DecayAttentionWorkspace& ws);
void decay_attention_recurrent_backward(const DecayAttentionInputs& in, const real* d_o, const real* dht,
                                        const DecayAttentionGrads& grads, DecayAttentionWorkspace& ws);
void decay_attention_chunk_forward(const DecayAttentionInputs& in, real* o, real* ht, DecayAttentionWorkspace& ws);
void decay_attention_chunk_backward(const DecayAttentionInputs& in, const real* d_o, const real* dht,
                                    const DecayAttentionGrads& grads, DecayAttentionWorkspace& ws);

}  // namespace db
