// linear_attention.h (cuda): additive linear attention with an optional scalar gate, on the GPU.
//
//   S_t = exp(g_t) S_{t-1} + k_t v_t^T,   o_t = S_t^T (scale q_t),   S_0 = h0 (or zeros), state [K,V]
//
// g null is plain linear attention (models/kernels/linear_attention.h); with g it is the
// recurrence of GatedLinearAttentionMixer. fp32, forward and backward, for S = B*H independent
// sequences in one call, in the chunkwise form (chunk kLinearAttentionChunk = 64). Per chunk c
// with start state S_c and chunk-local cumulative log gates b_i = g_t0 + ... + g_{t0+i}:
//   O       = scale (diag(e^b) Q S_c + (tril_incl(Q K^T) . D) V),    D_ij = e^{b_i - b_j}
//   S_{c+1} = e^{b_last} S_c + (diag(e^{b_last - b}) K)^T V
// Only differences b_i - b_j (i >= j), b_i and b_last - b_j are exponentiated, so with g <= 0 no
// factor exceeds 1. Work is split as in fla: one sequential pass over chunks per (sequence, state
// tile) for the chunk states (saved for the backward), then every (sequence, chunk, output tile)
// in parallel for the outputs; the backward runs the state-gradient pass in reverse, then dv, dq,
// dk in parallel and, with a gate, dg from dL/db_i = q_i.dq_i - k_i.dk_i (+ <dS_{c+1}, S_{c+1}> on
// the chunk's last row), summed backwards within the chunk.
//
// Everything is queued on the context's stream: no host synchronisation, no allocation once the
// workspace has grown to a shape, no atomics (the same bits on every run). All pointers are device
// pointers; buffers are contiguous row-major. This header compiles as C++17 (nvcc) and C++20.
#pragma once

#include "models/cuda/runtime.h"

namespace db::cuda {

inline constexpr int kLinearAttentionChunk = 64;

// Legend: S sequences (batch * heads), T tokens, K key dim, V value dim.
struct GpuLinearAttentionInputs {
  int S = 0, T = 0, K = 0, V = 0;
  float scale = 0;           // 0 selects K^-0.5
  const float* q = nullptr;   // [S, T, K]
  const float* k = nullptr;   // [S, T, K]
  const float* v = nullptr;   // [S, T, V]
  const float* g = nullptr;   // [S, T] log decay, or nullptr (no gate: plain linear attention)
  const float* h0 = nullptr;  // [S, K, V] or nullptr (zeros)

  float effective_scale() const;
};

// dq, dk, dv are overwritten; dg is written when the inputs have a gate (it may be nullptr to skip
// it); dh0 is written when non-null
struct GpuLinearAttentionGrads {
  float* dq = nullptr;   // [S, T, K]
  float* dk = nullptr;   // [S, T, K]
  float* dv = nullptr;   // [S, T, V]
  float* dg = nullptr;   // [S, T]
  float* dh0 = nullptr;  // [S, K, V]
};

// What the forward keeps for the backward. Buffers only grow.
struct GpuLinearAttentionWorkspace {
  int S = 0, T = 0, K = 0, V = 0;
  bool gated = false, forward_done = false;
  DeviceBuffer<double> gate_cumsum;  // [S, T] chunk-local inclusive cumulative log gate (gated only)
  DeviceBuffer<float> states;        // [S, N+1, K, V] S_c at the start of chunk c; [N] is the final state
  DeviceBuffer<float> dstates;       // [S, N+1, K, V] dL/dS_c (backward); [0] is dL/dh0
};

// o [S, T, V] (overwritten); ht [S, K, V] the final states, or nullptr when not wanted
void linear_attention_forward(const Context& ctx, const GpuLinearAttentionInputs& in, float* o, float* ht,
                              GpuLinearAttentionWorkspace& ws);
// d_o [S, T, V]; dht [S, K, V] or nullptr (zeros). Needs the forward of the same inputs in ws
// (checked on the shape and on the gate's presence only).
void linear_attention_backward(const Context& ctx, const GpuLinearAttentionInputs& in, const float* d_o,
                               const float* dht, const GpuLinearAttentionGrads& grads, GpuLinearAttentionWorkspace& ws);

}  // namespace db::cuda
