// gated_delta_rule_recurrent.cpp: the token-by-token gated delta rule and its BPTT (math doc, section 3).
//
// This is the reference the chunk form is tested against, so it follows the recurrence literally:
// one rank-1 update per interleaved position. To keep memory at O(T/64 * K*V) the forward stores
// only the state at the start of every kRecurrentSegment tokens; the backward re-runs one segment
// at a time from its checkpoint (saving S~, u and delta per position) and then walks it in reverse.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "models/kernels/gated_delta_rule.h"

namespace db {

real DeltaRuleInputs::effective_scale() const {
  return scale != real(0) ? scale : real(1) / std::sqrt(static_cast<real>(K));
}

size_t DeltaRuleWorkspace::bytes() const {
  size_t n = 0;
  for (const auto* b : {&chunk_states, &t_hat, &w, &v_new, &g_cum, &cc0, &cc1, &cc2, &cc3, &ck0, &ck1, &ck2,
                        &ck3, &ck4, &cv0, &cv1, &cv2, &c0, &c1, &c2, &c3, &kv0, &checkpoints, &seg_states,
                        &seg_delta, &seg_u, &state, &dstate, &tmp_kv, &tmp_v})
    n += b->capacity() * sizeof(real);
  return n;
}

namespace {

void check_inputs(const DeltaRuleInputs& in, const char* who) {
  if (in.T < 0 || in.K <= 0 || in.V <= 0 || in.n_h < 1)
    throw std::invalid_argument(std::string(who) + ": need T >= 0, K > 0, V > 0, n_h >= 1");
  if (in.T > 0 && (!in.q || !in.k || !in.v || !in.beta))
    throw std::invalid_argument(std::string(who) + ": q, k, v and beta are required");
}

// grow-only resize so a reused workspace never reallocates
void ensure(RealVector& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
}

// Runs tokens [t_begin, t_end) from `state` (updated in place), writing o rows when o != nullptr.
// With `trace` the per-position pre-update state S~ (after the gate on sub-step 0), u and delta are
// recorded at positions relative to t_begin*n_h, which is what the backward needs; without it u and
// delta live in the workspace's [V] scratch (ws.tmp_v holds 2V).
void run_tokens(const DeltaRuleInputs& in, Index t_begin, Index t_end, MatMap state, real* o, DeltaRuleWorkspace& ws,
                bool trace) {
  const Index K = in.K, V = in.V, n_h = in.n_h;
  const real scale = in.effective_scale();
  for (Index t = t_begin; t < t_end; ++t) {
    if (in.g) state *= std::exp(in.g[t]);
    for (Index j = 0; j < n_h; ++j) {
      const Index p = t * n_h + j;
      const Index local = p - t_begin * n_h;
      ConstVecMap k_p(in.k + p * K, K);  // [K]
      ConstVecMap v_p(in.v + p * V, V);  // [V]
      VecMap u_p(trace ? ws.seg_u.data() + local * V : ws.tmp_v.data(), V);           // [V]
      VecMap delta_p(trace ? ws.seg_delta.data() + local * V : ws.tmp_v.data() + V, V);  // [V]
      if (trace) as_matrix(ws.seg_states.data() + local * K * V, K, V) = state;
      u_p.noalias() = v_p - state.transpose() * k_p;
      delta_p = in.beta[p] * u_p;
      state.noalias() += k_p * delta_p.transpose();
    }
    if (o) {
      ConstVecMap q_t(in.q + t * K, K);  // [K]
      VecMap o_t(o + t * V, V);          // [V]
      o_t.noalias() = scale * (state.transpose() * q_t);
    }
  }
}

}  // namespace

void gated_delta_rule_recurrent_forward(const DeltaRuleInputs& in, real* o, real* ht, DeltaRuleWorkspace& ws) {
  check_inputs(in, "gated_delta_rule_recurrent_forward");
  const Index T = in.T, K = in.K, V = in.V;
  const Index n_seg = (T + kRecurrentSegment - 1) / kRecurrentSegment;
  ensure(ws.checkpoints, static_cast<size_t>(std::max<Index>(n_seg, 1) * K * V));
  ensure(ws.state, static_cast<size_t>(K * V));
  ensure(ws.tmp_v, static_cast<size_t>(2 * V));
  MatMap state = as_matrix(ws.state.data(), K, V);  // [K, V]
  if (in.h0) state = as_matrix(in.h0, K, V);
  else state.setZero();
  for (Index s = 0; s < n_seg; ++s) {
    as_matrix(ws.checkpoints.data() + s * K * V, K, V) = state;
    const Index t_end = std::min(T, (s + 1) * kRecurrentSegment);
    run_tokens(in, s * kRecurrentSegment, t_end, state, o, ws, false);
  }
  if (ht) as_matrix(ht, K, V) = state;
  ws.form = DeltaRuleWorkspace::Form::recurrent;
  ws.T = T; ws.K = K; ws.V = V; ws.n_h = in.n_h; ws.chunk = 0; ws.gated = in.g != nullptr;
}

void gated_delta_rule_recurrent_backward(const DeltaRuleInputs& in, const real* d_o, const real* dht,
                                         const DeltaRuleGrads& grads, DeltaRuleWorkspace& ws) {
  check_inputs(in, "gated_delta_rule_recurrent_backward");
  if (ws.form != DeltaRuleWorkspace::Form::recurrent || ws.T != in.T || ws.K != in.K || ws.V != in.V ||
      ws.n_h != in.n_h || ws.gated != (in.g != nullptr))
    throw std::logic_error("gated_delta_rule_recurrent_backward: workspace does not hold this sequence's forward");
  if (in.T > 0 && (!d_o || !grads.dq || !grads.dk || !grads.dv || !grads.dbeta || (in.g && !grads.dg)))
    throw std::invalid_argument("gated_delta_rule_recurrent_backward: missing gradient buffer");
  const Index T = in.T, K = in.K, V = in.V, n_h = in.n_h;
  const real scale = in.effective_scale();
  const Index seg_positions = kRecurrentSegment * n_h;
  ensure(ws.seg_states, static_cast<size_t>(seg_positions * K * V));
  ensure(ws.seg_delta, static_cast<size_t>(seg_positions * V));
  ensure(ws.seg_u, static_cast<size_t>(seg_positions * V));
  ensure(ws.dstate, static_cast<size_t>(K * V));
  ensure(ws.tmp_kv, static_cast<size_t>(K * V));
  ensure(ws.tmp_v, static_cast<size_t>(2 * V));

  MatMap dS = as_matrix(ws.dstate.data(), K, V);      // [K, V] gradient w.r.t. the current state
  MatMap state = as_matrix(ws.state.data(), K, V);    // [K, V] segment replay
  MatMap s_post = as_matrix(ws.tmp_kv.data(), K, V);  // [K, V] state after a token's last sub-step
  VecMap d_delta(ws.tmp_v.data(), V);                 // [V]
  if (dht) dS = as_matrix(dht, K, V);
  else dS.setZero();

  const Index n_seg = (T + kRecurrentSegment - 1) / kRecurrentSegment;
  for (Index s = n_seg - 1; s >= 0; --s) {
    const Index t_begin = s * kRecurrentSegment, t_end = std::min(T, t_begin + kRecurrentSegment);
    state = as_matrix(ws.checkpoints.data() + s * K * V, K, V);
    run_tokens(in, t_begin, t_end, state, nullptr, ws, true);
    for (Index t = t_end - 1; t >= t_begin; --t) {
      // the read o_t = S_t^T (scale q_t) happens after the last sub-step
      const Index last_local = (t - t_begin) * n_h + n_h - 1;
      const Index last_p = t * n_h + n_h - 1;
      s_post = as_matrix(ws.seg_states.data() + last_local * K * V, K, V);
      s_post.noalias() += ConstVecMap(in.k + last_p * K, K) * ConstVecMap(ws.seg_delta.data() + last_local * V, V).transpose();
      ConstVecMap q_t(in.q + t * K, K);    // [K]
      ConstVecMap do_t(d_o + t * V, V);    // [V]
      VecMap(grads.dq + t * K, K).noalias() = scale * (s_post * do_t);
      VecMap scaled_do(ws.tmp_v.data() + V, V);  // [V]; a plain vector keeps the outer product allocation-free
      scaled_do = scale * do_t;
      dS.noalias() += q_t * scaled_do.transpose();
      for (Index j = n_h - 1; j >= 0; --j) {
        const Index p = t * n_h + j, local = p - t_begin * n_h;
        ConstVecMap k_p(in.k + p * K, K);                              // [K]
        ConstMatMap s_pre = as_matrix(static_cast<const real*>(ws.seg_states.data() + local * K * V), K, V);  // [K, V]
        ConstVecMap u_p(ws.seg_u.data() + local * V, V);               // [V]
        ConstVecMap delta_p(ws.seg_delta.data() + local * V, V);       // [V]
        VecMap dv_p(grads.dv + p * V, V);                              // [V], holds du
        VecMap dk_p(grads.dk + p * K, K);                              // [K]
        d_delta.noalias() = dS.transpose() * k_p;
        grads.dbeta[p] = d_delta.dot(u_p);
        dv_p = in.beta[p] * d_delta;
        dk_p.noalias() = dS * delta_p;
        dk_p.noalias() -= s_pre * dv_p;
        dS.noalias() -= k_p * dv_p.transpose();
      }
      if (in.g) {
        // dS is now the gradient w.r.t. S~ of sub-step 0, i.e. after the gate
        const Index local0 = (t - t_begin) * n_h;
        grads.dg[t] = (as_matrix(static_cast<const real*>(ws.seg_states.data() + local0 * K * V), K, V).array() *
                       dS.array()).sum();
        dS *= std::exp(in.g[t]);
      }
    }
  }
  if (grads.dh0) as_matrix(grads.dh0, K, V) = dS;
}

}  // namespace db
