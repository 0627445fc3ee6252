// linear_attention.cpp: causal linear attention, recurrent reference and chunkwise form with backward.
//
// The recurrent backward needs no saved states: dq_t = scale S_t do_t only depends on the past, so
// it is produced by re-running the forward, and dk, dv, dh0 only need the reverse-accumulated
// state gradient dS_t = dht + scale sum_{u>=t} q_u do_u^T. The chunk form is the same algebra on
// blocks of C rows (dense products, causal mask on the diagonal block); its forward saves S_c per
// chunk so the backward is one reverse pass.
#include "models/kernels/linear_attention.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace db {

namespace {

void ensure(RealVector& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
}

void check_inputs(const LinearAttentionInputs& in, const char* who, bool chunked) {
  if (in.T < 0 || in.K <= 0 || in.V <= 0 || (chunked && in.chunk < 1))
    throw std::invalid_argument(std::string(who) + ": need T >= 0, K > 0, V > 0, chunk >= 1");
  if (in.T > 0 && (!in.q || !in.k || !in.v)) throw std::invalid_argument(std::string(who) + ": q, k, v are required");
}

// scale * tril_incl(m) in place, m [L, L]
void causal_mask_scale(MatMap m, real scale) {
  const Index L = m.rows();
  for (Index i = 0; i < L; ++i) {
    m.row(i).head(i + 1) *= scale;
    m.row(i).tail(L - i - 1).setZero();
  }
}

}  // namespace

real LinearAttentionInputs::effective_scale() const {
  return scale != real(0) ? scale : real(1) / std::sqrt(static_cast<real>(K));
}

double linear_attention_chunk_flops(Index T, Index K, Index V, Index chunk, bool with_backward) {
  // per chunk of L rows: forward Q K^T 2L^2K, Q S 2LKV, Att V 2L^2V, K^T V 2LKV;
  // backward dO V^T 2L^2V, dO S^T 2LKV, ds K 2L^2K, V dH^T 2LKV, ds^T Q 2L^2K, Q K^T 2L^2K,
  //          Att^T dO 2L^2V, K dH 2LKV, Q^T dO 2LKV
  double flops = 0;
  const double k = static_cast<double>(K), v = static_cast<double>(V);
  for (Index t0 = 0; t0 < T; t0 += chunk) {
    const double L = static_cast<double>(std::min(chunk, T - t0));
    flops += 2 * L * L * k + 2 * L * k * v + 2 * L * L * v + 2 * L * k * v;
    if (with_backward) flops += 6 * L * L * k + 4 * L * L * v + 8 * L * k * v;
  }
  return flops;
}

void linear_attention_recurrent_forward(const LinearAttentionInputs& in, real* o, real* ht, LinearAttentionWorkspace& ws) {
  check_inputs(in, "linear_attention_recurrent_forward", false);
  const Index K = in.K, V = in.V;
  const real scale = in.effective_scale();
  ensure(ws.state, static_cast<size_t>(K * V));
  MatMap S = as_matrix(ws.state.data(), K, V);  // [K, V]
  if (in.h0) S = as_matrix(in.h0, K, V);
  else S.setZero();
  for (Index t = 0; t < in.T; ++t) {
    S.noalias() += ConstVecMap(in.k + t * K, K) * ConstVecMap(in.v + t * V, V).transpose();
    VecMap(o + t * V, V).noalias() = scale * (S.transpose() * ConstVecMap(in.q + t * K, K));
  }
  if (ht) as_matrix(ht, K, V) = S;
  ws.form = LinearAttentionWorkspace::Form::recurrent;
  ws.T = in.T; ws.K = K; ws.V = V; ws.chunk = 0;
}

void linear_attention_recurrent_backward(const LinearAttentionInputs& in, const real* d_o, const real* dht,
                                         const LinearAttentionGrads& grads, LinearAttentionWorkspace& ws) {
  check_inputs(in, "linear_attention_recurrent_backward", false);
  const Index K = in.K, V = in.V;
  const real scale = in.effective_scale();
  ensure(ws.state, static_cast<size_t>(K * V));
  ensure(ws.scaled_do, static_cast<size_t>(V));
  MatMap S = as_matrix(ws.state.data(), K, V);  // [K, V] S_t, then dS_t
  if (in.h0) S = as_matrix(in.h0, K, V);
  else S.setZero();
  for (Index t = 0; t < in.T; ++t) {
    S.noalias() += ConstVecMap(in.k + t * K, K) * ConstVecMap(in.v + t * V, V).transpose();
    VecMap(grads.dq + t * K, K).noalias() = scale * (S * ConstVecMap(d_o + t * V, V));
  }
  if (dht) S = as_matrix(dht, K, V);
  else S.setZero();
  for (Index t = in.T - 1; t >= 0; --t) {
    // a plain scaled vector keeps the outer product free of temporaries
    VecMap scaled_do(ws.scaled_do.data(), V);  // [V]
    scaled_do = scale * ConstVecMap(d_o + t * V, V);
    S.noalias() += ConstVecMap(in.q + t * K, K) * scaled_do.transpose();
    VecMap(grads.dk + t * K, K).noalias() = S * ConstVecMap(in.v + t * V, V);
    VecMap(grads.dv + t * V, V).noalias() = S.transpose() * ConstVecMap(in.k + t * K, K);
  }
  if (grads.dh0) as_matrix(grads.dh0, K, V) = S;
}

void linear_attention_chunk_forward(const LinearAttentionInputs& in, real* o, real* ht, LinearAttentionWorkspace& ws) {
  check_inputs(in, "linear_attention_chunk_forward", true);
  const Index K = in.K, V = in.V, C = in.chunk;
  const Index n_chunks = (in.T + C - 1) / C;
  const real scale = in.effective_scale();
  ensure(ws.chunk_states, static_cast<size_t>((n_chunks + 1) * K * V));
  ensure(ws.att, static_cast<size_t>(2 * C * C));
  MatMap S0 = as_matrix(ws.chunk_states.data(), K, V);  // [K, V]
  if (in.h0) S0 = as_matrix(in.h0, K, V);
  else S0.setZero();
  for (Index c = 0; c < n_chunks; ++c) {
    const Index t0 = c * C, L = std::min(C, in.T - t0);
    ConstMatMap S = as_matrix(static_cast<const real*>(ws.chunk_states.data() + c * K * V), K, V);  // [K, V]
    MatMap S_next = as_matrix(ws.chunk_states.data() + (c + 1) * K * V, K, V);                     // [K, V]
    ConstMatMap Qc = as_matrix(in.q + t0 * K, L, K);  // [L, K]
    ConstMatMap Kc = as_matrix(in.k + t0 * K, L, K);  // [L, K]
    ConstMatMap Vc = as_matrix(in.v + t0 * V, L, V);  // [L, V]
    MatMap Oc = as_matrix(o + t0 * V, L, V);          // [L, V]
    MatMap att = as_matrix(ws.att.data(), L, L);      // [L, L]
    att.noalias() = Qc * Kc.transpose();
    causal_mask_scale(att, scale);
    Oc.noalias() = scale * (Qc * S);
    Oc.noalias() += att * Vc;
    S_next = S;
    S_next.noalias() += Kc.transpose() * Vc;
  }
  if (ht) as_matrix(ht, K, V) = as_matrix(ws.chunk_states.data() + n_chunks * K * V, K, V);
  ws.form = LinearAttentionWorkspace::Form::chunk;
  ws.T = in.T; ws.K = K; ws.V = V; ws.chunk = C;
}

void linear_attention_chunk_backward(const LinearAttentionInputs& in, const real* d_o, const real* dht,
                                     const LinearAttentionGrads& grads, LinearAttentionWorkspace& ws) {
  check_inputs(in, "linear_attention_chunk_backward", true);
  if (ws.form != LinearAttentionWorkspace::Form::chunk || ws.T != in.T || ws.K != in.K || ws.V != in.V ||
      ws.chunk != in.chunk)
    throw std::logic_error("linear_attention_chunk_backward: workspace does not hold this sequence's chunk forward");
  const Index K = in.K, V = in.V, C = in.chunk;
  const Index n_chunks = (in.T + C - 1) / C;
  const real scale = in.effective_scale();
  ensure(ws.state, static_cast<size_t>(K * V));
  MatMap dS = as_matrix(ws.state.data(), K, V);  // [K, V] gradient w.r.t. the end state, then the start state
  if (dht) dS = as_matrix(dht, K, V);
  else dS.setZero();
  for (Index c = n_chunks - 1; c >= 0; --c) {
    const Index t0 = c * C, L = std::min(C, in.T - t0);
    ConstMatMap S = as_matrix(static_cast<const real*>(ws.chunk_states.data() + c * K * V), K, V);  // [K, V]
    ConstMatMap Qc = as_matrix(in.q + t0 * K, L, K);   // [L, K]
    ConstMatMap Kc = as_matrix(in.k + t0 * K, L, K);   // [L, K]
    ConstMatMap Vc = as_matrix(in.v + t0 * V, L, V);   // [L, V]
    ConstMatMap dOc = as_matrix(d_o + t0 * V, L, V);   // [L, V]
    MatMap dQc = as_matrix(grads.dq + t0 * K, L, K);   // [L, K]
    MatMap dKc = as_matrix(grads.dk + t0 * K, L, K);   // [L, K]
    MatMap dVc = as_matrix(grads.dv + t0 * V, L, V);   // [L, V]
    MatMap att = as_matrix(ws.att.data(), L, L);       // [L, L] scale tril(Q K^T)
    MatMap ds = as_matrix(ws.att.data() + C * C, L, L);  // [L, L] scale tril(dO V^T)
    att.noalias() = Qc * Kc.transpose();
    causal_mask_scale(att, scale);
    ds.noalias() = dOc * Vc.transpose();
    causal_mask_scale(ds, scale);
    dQc.noalias() = scale * (dOc * S.transpose());
    dQc.noalias() += ds * Kc;
    dKc.noalias() = Vc * dS.transpose();
    dKc.noalias() += ds.transpose() * Qc;
    dVc.noalias() = Kc * dS;
    dVc.noalias() += att.transpose() * dOc;
    dS.noalias() += scale * (Qc.transpose() * dOc);
  }
  if (grads.dh0) as_matrix(grads.dh0, K, V) = dS;
}

}  // namespace db
