// diagonal_decay_attention.cpp: per-key-channel decayed linear attention, recurrent reference and
// chunkwise form with their backward passes (math in the header).
#include "models/kernels/diagonal_decay_attention.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace db {

namespace {

void ensure(RealVector& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
}

void check_inputs(const DecayAttentionInputs& in, const char* who, bool chunked) {
  if (in.T < 0 || in.K <= 0 || in.V <= 0 || (chunked && in.chunk < 1))
    throw std::invalid_argument(std::string(who) + ": need T >= 0, K > 0, V > 0, chunk >= 1");
  if (in.T > 0 && (!in.q || !in.k || !in.v || !in.g))
    throw std::invalid_argument(std::string(who) + ": q, k, v, g are required");
}

// rows of a sub-block of the chunk: scores inside one sub-block take one exponential per
// (i, j, k); scores between sub-blocks are a matrix product (chunk_factors, intra_scores_backward)
constexpr Index kSub = 16;

// the per-chunk quantities both passes need, for rows t0 .. t0+L-1:
// b = within-chunk cumsum of g, qd = q o exp(b), kd = k o exp(b_last - b), att = tril(A)
void chunk_factors(const DecayAttentionInputs& in, Index t0, Index L, DecayAttentionWorkspace& ws) {
  const Index K = in.K;
  MatMap b(ws.b.data(), L, K), qd(ws.qd.data(), L, K), kd(ws.kd.data(), L, K);
  MatMap att(ws.att.data(), L, L);
  ConstMatMap q(in.q + t0 * K, L, K), k(in.k + t0 * K, L, K), g(in.g + t0 * K, L, K);
  b.row(0) = g.row(0);
  for (Index i = 1; i < L; ++i) b.row(i) = b.row(i - 1) + g.row(i);
  qd = (q.array() * b.array().exp()).matrix();
  for (Index j = 0; j < L; ++j) kd.row(j) = (k.row(j).array() * (b.row(L - 1) - b.row(j)).array().exp()).matrix();
  att.setZero();
  for (Index i0 = 0; i0 < L; i0 += kSub) {
    const Index n = std::min(kSub, L - i0);
    // inside the sub-block: the pairwise exponential itself, a row of K at a time (Eigen's
    // vectorised exp) into a preallocated row
    VecMap w(ws.w.data(), K);
    for (Index i = i0; i < i0 + n; ++i)
      for (Index j = i0; j <= i; ++j) {
        w = (b.row(i) - b.row(j)).transpose().array().exp().matrix();
        att(i, j) = (q.row(i).transpose().array() * k.row(j).transpose().array() * w.array()).sum();
      }
    if (i0 == 0) continue;
    // against all earlier rows, through the row r = i0 - 1 between them:
    // exp(b_i - b_j) = exp(b_i - b_r) exp(b_r - b_j), both factors <= 1 since j <= r < i
    const Index r = i0 - 1;
    MatMap qs(ws.qs.data(), n, K), kp(ws.kp.data(), i0, K);
    qs = (q.middleRows(i0, n).array() * (b.middleRows(i0, n).rowwise() - b.row(r)).array().exp()).matrix();
    kp = (k.topRows(i0).array() * ((-b.topRows(i0)).rowwise() + b.row(r)).array().exp()).matrix();
    att.block(i0, 0, n, i0).noalias() = qs * kp.transpose();
  }
}

// the backward of att = tril(A) given dA (in ws.att, zero above the diagonal): adds into dq, dk
// and, when db is given, into db (both factorised forms drop the intermediate row r, whose two
// contributions cancel exactly)
void intra_scores_backward(const DecayAttentionInputs& in, Index t0, Index L, DecayAttentionWorkspace& ws, MatMap dq,
                           MatMap dk, real* db_data) {
  const Index K = in.K;
  ConstMatMap b(ws.b.data(), L, K), dA(ws.att.data(), L, L);
  ConstMatMap q(in.q + t0 * K, L, K), k(in.k + t0 * K, L, K);
  for (Index i0 = 0; i0 < L; i0 += kSub) {
    const Index n = std::min(kSub, L - i0);
    VecMap w(ws.w.data(), K), p(ws.p.data(), K);
    for (Index i = i0; i < i0 + n; ++i)
      for (Index j = i0; j <= i; ++j) {
        // w = dA_ij exp(b_i - b_j), the weight of both rows' gradients
        w = (dA(i, j) * (b.row(i) - b.row(j)).transpose().array().exp()).matrix();
        dq.row(i) += (w.array() * k.row(j).transpose().array()).matrix().transpose();
        dk.row(j) += (w.array() * q.row(i).transpose().array()).matrix().transpose();
        if (db_data) {
          p = (w.array() * q.row(i).transpose().array() * k.row(j).transpose().array()).matrix();
          VecMap(db_data + i * K, K) += p;
          VecMap(db_data + j * K, K) -= p;
        }
      }
    if (i0 == 0) continue;
    const Index r = i0 - 1;
    MatMap e(ws.e.data(), n, K), f(ws.f.data(), i0, K);
    MatMap qs(ws.qs.data(), n, K), kp(ws.kp.data(), i0, K), dqs(ws.dqs.data(), n, K), dkp(ws.dkp.data(), i0, K);
    e = (b.middleRows(i0, n).rowwise() - b.row(r)).array().exp().matrix();
    f = ((-b.topRows(i0)).rowwise() + b.row(r)).array().exp().matrix();
    qs = (q.middleRows(i0, n).array() * e.array()).matrix();
    kp = (k.topRows(i0).array() * f.array()).matrix();
    dqs.noalias() = dA.block(i0, 0, n, i0) * kp;
    dkp.noalias() = dA.block(i0, 0, n, i0).transpose() * qs;
    dq.middleRows(i0, n) += (dqs.array() * e.array()).matrix();
    dk.topRows(i0) += (dkp.array() * f.array()).matrix();
    if (db_data) {
      MatMap db(db_data, L, K);
      db.middleRows(i0, n) += (dqs.array() * qs.array()).matrix();
      db.topRows(i0) -= (dkp.array() * kp.array()).matrix();
    }
  }
}

}  // namespace

real DecayAttentionInputs::effective_scale() const {
  return scale != real(0) ? scale : real(1) / std::sqrt(static_cast<real>(K));
}

void decay_attention_recurrent_forward(const DecayAttentionInputs& in, real* o, real* ht, DecayAttentionWorkspace& ws) {
  check_inputs(in, "decay_attention_recurrent_forward", false);
  const Index T = in.T, K = in.K, V = in.V;
  const real scale = in.effective_scale();
  ensure(ws.states, size_t(T + 1) * K * V);
  MatMap S0(ws.states.data(), K, V);
  if (in.h0) S0 = ConstMatMap(in.h0, K, V);
  else S0.setZero();
  for (Index t = 0; t < T; ++t) {
    ConstMatMap prev(ws.states.data() + t * K * V, K, V);
    MatMap next(ws.states.data() + (t + 1) * K * V, K, V);
    const real* g = in.g + t * K;
    for (Index i = 0; i < K; ++i) next.row(i) = std::exp(g[i]) * prev.row(i);
    next.noalias() += ConstVecMap(in.k + t * K, K) * ConstVecMap(in.v + t * V, V).transpose();
    VecMap(o + t * V, V).noalias() = scale * (next.transpose() * ConstVecMap(in.q + t * K, K));
  }
  if (ht) std::copy_n(ws.states.data() + T * K * V, K * V, ht);
}

void decay_attention_recurrent_backward(const DecayAttentionInputs& in, const real* d_o, const real* dht,
                                        const DecayAttentionGrads& grads, DecayAttentionWorkspace& ws) {
  check_inputs(in, "decay_attention_recurrent_backward", false);
  const Index T = in.T, K = in.K, V = in.V;
  const real scale = in.effective_scale();
  if (ws.states.size() < size_t(T + 1) * K * V)
    throw std::logic_error("decay_attention_recurrent_backward: no recurrent forward of this shape in the workspace");
  ensure(ws.dS, size_t(K) * V);
  MatMap dS(ws.dS.data(), K, V);  // dL/dS_t, from t = T down to 0
  if (dht) dS = ConstMatMap(dht, K, V);
  else dS.setZero();
  for (Index t = T - 1; t >= 0; --t) {
    ConstMatMap prev(ws.states.data() + t * K * V, K, V);
    ConstMatMap cur(ws.states.data() + (t + 1) * K * V, K, V);
    ConstVecMap q(in.q + t * K, K), k(in.k + t * K, K), v(in.v + t * V, V), d_o_t(d_o + t * V, V);
    VecMap(grads.dq + t * K, K).noalias() = scale * (cur * d_o_t);
    dS.noalias() += (scale * q) * d_o_t.transpose();
    VecMap(grads.dk + t * K, K).noalias() = dS * v;
    VecMap(grads.dv + t * V, V).noalias() = dS.transpose() * k;
    const real* g = in.g + t * K;
    for (Index i = 0; i < K; ++i) {
      const real decay = std::exp(g[i]);
      if (grads.dg) grads.dg[t * K + i] = decay * prev.row(i).dot(dS.row(i));
      dS.row(i) *= decay;
    }
  }
  if (grads.dh0) MatMap(grads.dh0, K, V) = dS;
}

void decay_attention_chunk_forward(const DecayAttentionInputs& in, real* o, real* ht, DecayAttentionWorkspace& ws) {
  check_inputs(in, "decay_attention_chunk_forward", true);
  const Index T = in.T, K = in.K, V = in.V, C = in.chunk;
  const Index n_chunks = (T + C - 1) / C;
  const real scale = in.effective_scale();
  ensure(ws.states, size_t(n_chunks + 1) * K * V);
  ensure(ws.b, size_t(C) * K), ensure(ws.qd, size_t(C) * K), ensure(ws.kd, size_t(C) * K);
  ensure(ws.att, size_t(C) * C);
  ensure(ws.qs, size_t(kSub) * K), ensure(ws.kp, size_t(C) * K), ensure(ws.w, size_t(K));
  MatMap S0(ws.states.data(), K, V);
  if (in.h0) S0 = ConstMatMap(in.h0, K, V);
  else S0.setZero();
  for (Index c = 0; c < n_chunks; ++c) {
    const Index t0 = c * C, L = std::min(C, T - t0);
    chunk_factors(in, t0, L, ws);
    ConstMatMap S(ws.states.data() + c * K * V, K, V);
    MatMap S_next(ws.states.data() + (c + 1) * K * V, K, V);
    ConstMatMap b(ws.b.data(), L, K), qd(ws.qd.data(), L, K), kd(ws.kd.data(), L, K), att(ws.att.data(), L, L);
    ConstMatMap Vc(in.v + t0 * V, L, V);
    MatMap Oc(o + t0 * V, L, V);
    Oc.noalias() = qd * S;
    Oc.noalias() += att * Vc;
    Oc *= scale;
    for (Index i = 0; i < K; ++i) S_next.row(i) = std::exp(b(L - 1, i)) * S.row(i);
    S_next.noalias() += kd.transpose() * Vc;
  }
  if (ht) std::copy_n(ws.states.data() + n_chunks * K * V, K * V, ht);
}

void decay_attention_chunk_backward(const DecayAttentionInputs& in, const real* d_o, const real* dht,
                                    const DecayAttentionGrads& grads, DecayAttentionWorkspace& ws) {
  check_inputs(in, "decay_attention_chunk_backward", true);
  const Index T = in.T, K = in.K, V = in.V, C = in.chunk;
  const Index n_chunks = (T + C - 1) / C;
  const real scale = in.effective_scale();
  if (ws.states.size() < size_t(n_chunks + 1) * K * V || ws.att.size() < size_t(C) * C)
    throw std::logic_error("decay_attention_chunk_backward: no chunk forward of this shape in the workspace");
  ensure(ws.dS, size_t(K) * V);
  ensure(ws.dqd, size_t(C) * K), ensure(ws.dkd, size_t(C) * K), ensure(ws.db, size_t(C) * K);
  ensure(ws.e, size_t(kSub) * K), ensure(ws.dqs, size_t(kSub) * K), ensure(ws.f, size_t(C) * K), ensure(ws.dkp, size_t(C) * K);
  ensure(ws.w, size_t(K)), ensure(ws.p, size_t(K));
  MatMap dS(ws.dS.data(), K, V);  // dL/dS_{c+1}, then dL/dS_c
  if (dht) dS = ConstMatMap(dht, K, V);
  else dS.setZero();
  for (Index c = n_chunks - 1; c >= 0; --c) {
    const Index t0 = c * C, L = std::min(C, T - t0);
    chunk_factors(in, t0, L, ws);
    ConstMatMap S(ws.states.data() + c * K * V, K, V);
    ConstMatMap b(ws.b.data(), L, K), qd(ws.qd.data(), L, K), kd(ws.kd.data(), L, K);
    MatMap att(ws.att.data(), L, L);
    ConstMatMap q(in.q + t0 * K, L, K), k(in.k + t0 * K, L, K), Vc(in.v + t0 * V, L, V), dO(d_o + t0 * V, L, V);
    MatMap dq(grads.dq + t0 * K, L, K), dk(grads.dk + t0 * K, L, K), dv(grads.dv + t0 * V, L, V);
    MatMap dqd(ws.dqd.data(), L, K), dkd(ws.dkd.data(), L, K), db(ws.db.data(), L, K);

    // products through O = scale (qd S + A V) and S_next = diag(exp(b_last)) S + kd^T V
    dqd.noalias() = scale * (dO * S.transpose());
    dkd.noalias() = Vc * dS.transpose();
    dv.noalias() = kd * dS;
    dv.noalias() += scale * (att.transpose() * dO);
    // att now becomes dA = scale tril(dO V^T)
    att.noalias() = scale * (dO * Vc.transpose());
    for (Index i = 0; i < L; ++i) att.row(i).tail(L - i - 1).setZero();

    // the factors' own exponentials
    dq = (dqd.array() * b.array().exp()).matrix();
    for (Index j = 0; j < L; ++j)
      dk.row(j) = (dkd.row(j).array() * (b.row(L - 1) - b.row(j)).array().exp()).matrix();
    if (grads.dg) {
      // d qd_i / d b_i = qd_i; d kd_j / d b_j = -kd_j and / d b_last = +kd_j
      db = (dqd.array() * qd.array() - dkd.array() * kd.array()).matrix();
      for (Index i = 0; i < K; ++i)
        db(L - 1, i) += (dkd.col(i).array() * kd.col(i).array()).sum() + std::exp(b(L - 1, i)) * S.row(i).dot(dS.row(i));
    }
    // through A_ij = sum_k q_ik k_jk exp(b_ik - b_jk)
    intra_scores_backward(in, t0, L, ws, dq, dk, grads.dg ? ws.db.data() : nullptr);
    // b_i = sum_{j<=i} g_j, so dg_j = sum_{i>=j} db_i
    if (grads.dg) {
      MatMap dg(grads.dg + t0 * K, L, K);
      dg.row(L - 1) = db.row(L - 1);
      for (Index j = L - 2; j >= 0; --j) dg.row(j) = dg.row(j + 1) + db.row(j);
    }
    // to the chunk's start state
    for (Index i = 0; i < K; ++i) dS.row(i) *= std::exp(b(L - 1, i));
    dS.noalias() += scale * (qd.transpose() * dO);
  }
  if (grads.dh0) MatMap(grads.dh0, K, V) = dS;
}

}  // namespace db
