// gated_delta_rule.h (cuda): the gated delta rule (DeltaNet, Gated DeltaNet, DeltaProduct) on the GPU.
//
// Semantics exactly as models/kernels/gated_delta_rule.h, for S = B*H independent sequences in one
// call (math: docs/delta-rule-math.md sections 4-7):
//   per token t:  S <- exp(g_t) S                                  (g == nullptr: no gate)
//                 for j < n_h:  p = t*n_h + j
//                               S <- S + k_p (beta_p (v_p - S^T k_p))^T
//                 o_t = S^T (scale q_t)                            (after the last sub-step)
// with the state in [K, V] layout and S_0 = h0 (or zeros). fp32 throughout (no TF32), chunkwise
// WY/UT form on chunks of kDeltaRuleChunk = 64 interleaved positions (any T; the last chunk may be
// partial, and a chunk may split a DeltaProduct token). The work is split as in
// flash-linear-attention, so that only two kernels walk the chunks in order:
//   forward   wy_forward   (sequence, chunk)    G, A, T^ = (I+A)^-1, W, U
//             fwd_scan     (sequence, V tile)   in chunk order: save S_c, Vn = U - W S_c, S_{c+1}
//             fwd_output   (sequence, chunk)    o = scale (diag(e^G) Q S_c + (tril(Q K^T) o Gamma) Vn)
//   backward  bwd_dvn_local(sequence, chunk)    dVn = Att^T dO
//             bwd_scan     (sequence, V tile)   in reverse: save dH_c = dL/dS_{c+1}, dVn += D K dH_c,
//                                               dS_c = e^{G_L} dH_c + (e^G Q)^T dO - W^T dVn
//             bwd_dqk      (sequence, chunk, K tile)  dq, dK through the state and the outputs, dW
//             bwd_wy       (sequence, chunk)    back through W, U, T^: dk, dv, dbeta, dg
//
// Everything is queued on the context's stream: no host synchronisation, no allocation once the
// workspace has grown to a shape (it only grows), no atomics (the same bits on every run). All
// pointers are device pointers to contiguous row-major buffers. This header compiles as C++17
// (nvcc) and C++20.
#pragma once

#include "models/cuda/runtime.h"

namespace db::cuda {

inline constexpr int kDeltaRuleChunk = 64;    // chunk length, in interleaved positions
inline constexpr int kDeltaRuleMaxDim = 256;  // largest K and V

// Legend: S sequences (batch * heads), T tokens, K key dim, V value dim, P = T*n_h positions.
struct GpuDeltaRuleInputs {
  int S = 0, T = 0, K = 0, V = 0;
  int n_h = 1;                  // Householder sub-steps per token (>= 1)
  float scale = 0;              // output scale; 0 selects K^-0.5
  const float* q = nullptr;     // [S, T, K]  already L2-normalised
  const float* k = nullptr;     // [S, P, K]  already L2-normalised; row t*n_h+j = sub-step j of token t
  const float* v = nullptr;     // [S, P, V]
  const float* beta = nullptr;  // [S, P]
  const float* g = nullptr;     // [S, T] natural-log decay <= 0, or nullptr (no gate)
  const float* h0 = nullptr;    // [S, K, V] initial states, or nullptr (zeros)

  int positions() const { return T * n_h; }
  float effective_scale() const;
};

// dq, dk, dv, dbeta are required and overwritten; dg is required and overwritten exactly when the
// inputs have a gate; dh0 is written when non-null.
struct GpuDeltaRuleGrads {
  float* dq = nullptr;     // [S, T, K]
  float* dk = nullptr;     // [S, P, K]
  float* dv = nullptr;     // [S, P, V]
  float* dbeta = nullptr;  // [S, P]
  float* dg = nullptr;     // [S, T]
  float* dh0 = nullptr;    // [S, K, V]
};

// What the forward keeps for the backward, plus the backward's scratch. N = ceil(P / 64) chunks.
// Buffers only grow. Per sequence: N*64*64 + P*(1 + 2K + 2V) + 2N*K*V floats, plus N*64*ceil(K/64)
// with a gate.
struct GpuDeltaRuleWorkspace {
  int S = 0, T = 0, K = 0, V = 0, n_h = 0;
  bool gated = false, forward_done = false;
  DeviceBuffer<float> g_cum;    // [S, P]          chunk-local cumulative gate G (zeros without a gate)
  DeviceBuffer<float> t_hat;    // [S, N, 64, 64]  T^ = (I+A)^-1 of each chunk (identity on padding rows)
  DeviceBuffer<float> w;        // [S, P, K]       W = T^ diag(beta e^G) K
  DeviceBuffer<float> v_new;    // [S, P, V]       U = T^ diag(beta) V, overwritten by Vn = U - W S_c
  DeviceBuffer<float> states;   // [S, N, K, V]    S_c, the state at the start of chunk c
  DeviceBuffer<float> dv_new;   // [S, P, V]       backward: dL/dVn
  DeviceBuffer<float> dstates;  // [S, N, K, V]    backward: dL/dS_{c+1}, the gradient at chunk c's end
  DeviceBuffer<float> dw;       // [S, P, K]       backward: dL/dW
  DeviceBuffer<float> dg_part;  // [S, N, ceil(K/F), 64] backward (gated): dL/dG per chunk row, per K tile

  size_t bytes() const;
};

// o [S, T, V] (overwritten); ht [S, K, V] the final states, or nullptr when not wanted.
// Throws std::invalid_argument for K or V outside [1, 256], n_h < 1 or missing inputs.
void gated_delta_rule_forward(const Context& ctx, const GpuDeltaRuleInputs& in, float* o, float* ht,
                              GpuDeltaRuleWorkspace& ws);
// d_o [S, T, V]; dht [S, K, V] or nullptr (zeros): gradients of sum(o*d_o) + sum(ht*dht). Needs the
// forward of the same inputs in ws (checked on the shape and on the gate's presence only; throws
// std::logic_error on a mismatch).
void gated_delta_rule_backward(const Context& ctx, const GpuDeltaRuleInputs& in, const float* d_o, const float* dht,
                               const GpuDeltaRuleGrads& grads, GpuDeltaRuleWorkspace& ws);

// the same on an explicit stream (the Context overloads pass ctx.stream())
void gated_delta_rule_forward(cudaStream_t stream, const GpuDeltaRuleInputs& in, float* o, float* ht,
                              GpuDeltaRuleWorkspace& ws);
void gated_delta_rule_backward(cudaStream_t stream, const GpuDeltaRuleInputs& in, const float* d_o, const float* dht,
                               const GpuDeltaRuleGrads& grads, GpuDeltaRuleWorkspace& ws);

}  // namespace db::cuda
