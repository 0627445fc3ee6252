// gated_delta_rule_chunk.cpp: the chunkwise (WY / UT transform) gated delta rule, forward and backward.
//
// Math: docs/delta-rule-math.md sections 4-7. The sequence is the interleaved one of
// P = T*n_h positions (DeltaProduct sub-steps are ordinary delta steps); the gate of token t sits on
// position t*n_h and the query of token t on position t*n_h + n_h - 1. Chunks are C consecutive
// positions, so a chunk may start or end inside a token; that is exact because the recurrence only
// cares about position order. Within chunk c, the queries that land in it are a contiguous run of
// q rows [t_lo, t_hi), so no zero-padded query matrix is ever built.
//
// Why chunked: each chunk turns L rank-1 updates into a handful of L x {L,K,V} dense products
// (GEMMs), which run near the CPU's peak while the recurrent form is bound by loads and stores of S.
// All buffers are Eigen maps on workspace storage and every product is written with noalias(), so
// after the first call with a given shape no heap allocation happens.
//
// Legend for shape comments: L rows of the current chunk (L <= C), R query rows in it (R <= L),
// K key dim, V value dim, P = T*n_h positions.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "models/kernels/gated_delta_rule.h"

namespace db {

namespace {

void ensure(RealVector& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
}

void check_inputs(const DeltaRuleInputs& in, const char* who) {
  if (in.T < 0 || in.K <= 0 || in.V <= 0 || in.n_h < 1 || in.chunk < 1)
    throw std::invalid_argument(std::string(who) + ": need T >= 0, K > 0, V > 0, n_h >= 1, chunk >= 1");
  if (in.T > 0 && (!in.q || !in.k || !in.v || !in.beta))
    throw std::invalid_argument(std::string(who) + ": q, k, v and beta are required");
}

void reserve_scratch(DeltaRuleWorkspace& ws, Index C, Index K, Index V) {
  for (auto* b : {&ws.cc0, &ws.cc1, &ws.cc2, &ws.cc3}) ensure(*b, static_cast<size_t>(C * C));
  for (auto* b : {&ws.ck0, &ws.ck1, &ws.ck2, &ws.ck3, &ws.ck4}) ensure(*b, static_cast<size_t>(C * K));
  for (auto* b : {&ws.cv0, &ws.cv1, &ws.cv2}) ensure(*b, static_cast<size_t>(C * V));
  for (auto* b : {&ws.c0, &ws.c1, &ws.c2, &ws.c3}) ensure(*b, static_cast<size_t>(C));
  ensure(ws.kv0, static_cast<size_t>(K * V));
}

// Where chunk [p0, p0+L) sits in token terms.
struct ChunkGeometry {
  Index p0, L;
  Index t_lo, R;  // query rows [t_lo, t_lo+R) of q / o / dq / do
  // in-chunk position of query row r
  Index query_pos(Index r, Index n_h) const { return (t_lo + r) * n_h + n_h - 1 - p0; }
};

ChunkGeometry chunk_geometry(Index c, Index C, Index P, Index n_h) {
  ChunkGeometry geo;
  geo.p0 = c * C;
  geo.L = std::min(C, P - geo.p0);
  geo.t_lo = geo.p0 / n_h;                   // first token whose last sub-step is >= p0
  geo.R = (geo.p0 + geo.L) / n_h - geo.t_lo;  // tokens whose last sub-step is < p0+L
  return geo;
}

// Chunk-local cumulative gate G (positions p0..p0+L-1, restarting at 0 each chunk) into `G_out`.
void chunk_cumsum_gate(const DeltaRuleInputs& in, const ChunkGeometry& geo, real* G_out) {
  real acc = 0;
  for (Index i = 0; i < geo.L; ++i) {
    const Index p = geo.p0 + i;
    if (p % in.n_h == 0) acc += in.g[p / in.n_h];
    G_out[i] = acc;
  }
}

// The causal, decayed, scaled query-key weights of one chunk, computed in place on
// `att` = Q_r K_c^T [R, L]:  att(r, j) <- scale * att(r, j) * exp(G[pos_r] - G[j]) for j <= pos_r,
// else 0. Only kept entries are exponentiated (each exponent <= 0 since g <= 0, so nothing
// overflows, unlike the factored form e^{G_i} e^{-G_j}). `decay` is [L] scratch.
void mask_causal_decay(MatMap att, const ChunkGeometry& geo, Index n_h, const real* G, real scale, real* decay) {
  for (Index r = 0; r < geo.R; ++r) {
    const Index pos = geo.query_pos(r, n_h);
    auto row = att.row(r);
    if (G) {
      VecMap d(decay, pos + 1);
      d = (G[pos] - ConstVecMap(G, pos + 1).array()).exp() * scale;
      row.head(pos + 1).array() *= d.array().transpose();
    } else {
      row.head(pos + 1) *= scale;
    }
    row.tail(geo.L - pos - 1).setZero();
  }
}

// Builds (I + A) in `m` [L, L] with A = strict_lower(diag(beta) K K^T o Gamma), given kk = K K^T.
void build_unit_lower(MatMap m, const MatMap& kk, const real* beta, const real* G, Index L, real* decay) {
  for (Index i = 0; i < L; ++i) {
    auto row = m.row(i);
    if (G && i > 0) {
      VecMap d(decay, i);
      d = (G[i] - ConstVecMap(G, i).array()).exp() * beta[i];
      row.head(i).array() = kk.row(i).head(i).array() * d.array().transpose();
    } else {
      row.head(i) = beta[i] * kk.row(i).head(i);
    }
    row(i) = 1;
    row.tail(L - i - 1).setZero();
  }
}

}  // namespace

double gated_delta_rule_chunk_flops(Index T, Index K, Index V, Index n_h, Index chunk, bool with_backward) {
  // Per chunk of L positions with R query rows, products as executed (2mnk each):
  //   forward : KK^T 2L^2K, (I+A)^-1 by a triangular solve against I  L^3, W 2L^2K, U 2L^2V,
  //             W S 2LKV, Q K^T 2RLK, Att Vn 2RLV, Q S 2RKV, K^T Vn 2LKV
  //   backward: Q K^T 2RLK, dO Vn^T 2RLV, Att^T dO 2RLV, K dH 2LKV, dO S^T 2RKV, ds K 2RLK,
  //             Vn dH^T 2LKV, ds^T Q 2RLK, Q^T dO 2RKV, W^T dVn 2LKV, dVn S^T 2LKV,
  //             T^T dW 2L^2K, T^T dU 2L^2V, dT^ 2L^2(K+V), T^T dT^ T^T 4L^3, dP K 2L^2K, dP^T K 2L^2K
  const Index P = T * n_h;
  double flops = 0;
  for (Index p0 = 0; p0 < P; p0 += chunk) {
    const double L = static_cast<double>(std::min(chunk, P - p0));
    const double R = static_cast<double>((p0 + std::min(chunk, P - p0)) / n_h - p0 / n_h);
    const double k = static_cast<double>(K), v = static_cast<double>(V);
    flops += 2 * L * L * k + L * L * L + 2 * L * L * k + 2 * L * L * v + 2 * L * k * v + 2 * R * L * k +
             2 * R * L * v + 2 * R * k * v + 2 * L * k * v;
    if (with_backward)
      flops += 2 * R * L * k + 2 * R * L * v + 2 * R * L * v + 2 * L * k * v + 2 * R * k * v + 2 * R * L * k +
               2 * L * k * v + 2 * R * L * k + 2 * R * k * v + 2 * L * k * v + 2 * L * k * v + 2 * L * L * k +
               2 * L * L * v + 2 * L * L * (k + v) + 4 * L * L * L + 4 * L * L * k;
  }
  return flops;
}

void gated_delta_rule_chunk_forward(const DeltaRuleInputs& in, real* o, real* ht, DeltaRuleWorkspace& ws) {
  check_inputs(in, "gated_delta_rule_chunk_forward");
  const Index K = in.K, V = in.V, n_h = in.n_h, C = in.chunk, P = in.positions();
  const Index n_chunks = (P + C - 1) / C;
  const real scale = in.effective_scale();
  const bool gated = in.g != nullptr;
  ensure(ws.chunk_states, static_cast<size_t>(std::max<Index>(n_chunks, 1) * K * V));
  ensure(ws.t_hat, static_cast<size_t>(P * C));
  ensure(ws.w, static_cast<size_t>(P * K));
  ensure(ws.v_new, static_cast<size_t>(P * V));
  ensure(ws.g_cum, static_cast<size_t>(P));
  reserve_scratch(ws, C, K, V);

  MatMap S0 = as_matrix(ws.chunk_states.data(), K, V);  // [K, V]
  if (in.h0) S0 = as_matrix(in.h0, K, V);
  else S0.setZero();

  for (Index c = 0; c < n_chunks; ++c) {
    const ChunkGeometry geo = chunk_geometry(c, C, P, n_h);
    const Index L = geo.L, R = geo.R, p0 = geo.p0;
    MatMap S = as_matrix(ws.chunk_states.data() + c * K * V, K, V);         // [K, V] S_c
    MatMap S_next = (c + 1 < n_chunks) ? as_matrix(ws.chunk_states.data() + (c + 1) * K * V, K, V)
                                       : as_matrix(ws.kv0.data(), K, V);  // [K, V] S_{c+1}
    ConstMatMap Kc = as_matrix(in.k + p0 * K, L, K);       // [L, K]
    ConstMatMap Vc = as_matrix(in.v + p0 * V, L, V);       // [L, V]
    const real* beta = in.beta + p0;                       // [L]
    real* G = gated ? ws.g_cum.data() + p0 : nullptr;      // [L]
    VecMap eG(ws.c0.data(), L);                            // [L] e^{G_i}
    real* decay = ws.c1.data();                            // [L] scratch
    if (gated) {
      chunk_cumsum_gate(in, geo, G);
      eG = ConstVecMap(G, L).array().exp();
    }

    // T^ = (I + A)^-1 via a unit-lower solve against I (the solve reads only the strict lower part)
    MatMap kk = as_matrix(ws.cc0.data(), L, L);       // [L, L] K K^T
    MatMap i_plus_a = as_matrix(ws.cc1.data(), L, L);  // [L, L]
    kk.noalias() = Kc * Kc.transpose();
    build_unit_lower(i_plus_a, kk, beta, G, L, decay);
    StridedMatMap t_hat = as_matrix(ws.t_hat.data() + p0 * C, L, L, C);  // [L, L] row stride C
    t_hat.setIdentity();
    i_plus_a.triangularView<Eigen::UnitLower>().solveInPlace(t_hat);

    // W = T^ diag(beta e^G) K,  U = T^ diag(beta) V,  Vn = U - W S_c
    MatMap k_beta_g = as_matrix(ws.ck0.data(), L, K);  // [L, K]
    MatMap v_beta = as_matrix(ws.cv0.data(), L, V);    // [L, V]
    if (gated) k_beta_g = (ConstVecMap(beta, L).array() * eG.array()).matrix().asDiagonal() * Kc;
    else k_beta_g = ConstVecMap(beta, L).asDiagonal() * Kc;
    v_beta = ConstVecMap(beta, L).asDiagonal() * Vc;
    MatMap W = as_matrix(ws.w.data() + p0 * K, L, K);       // [L, K]
    MatMap Vn = as_matrix(ws.v_new.data() + p0 * V, L, V);  // [L, V]
    W.noalias() = t_hat * k_beta_g;
    Vn.noalias() = t_hat * v_beta;
    Vn.noalias() -= W * S;

    // O_r = scale (diag(e^{G_pos}) Q_r S_c + (tril(Q_r K^T) o Gamma) Vn)
    if (R > 0) {
      ConstMatMap Qr = as_matrix(in.q + geo.t_lo * K, R, K);  // [R, K]
      MatMap Or = as_matrix(o + geo.t_lo * V, R, V);          // [R, V]
      MatMap att = as_matrix(ws.cc2.data(), R, L);            // [R, L]
      att.noalias() = Qr * Kc.transpose();
      mask_causal_decay(att, geo, n_h, G, scale, decay);
      Or.noalias() = Qr * S;
      for (Index r = 0; r < R; ++r) Or.row(r) *= gated ? scale * eG[geo.query_pos(r, n_h)] : scale;
      Or.noalias() += att * Vn;
    }

    // S_{c+1} = e^{G_L} S_c + K^T diag(e^{G_L - G}) Vn
    if (gated) {
      MatMap k_decay = as_matrix(ws.ck1.data(), L, K);  // [L, K]
      VecMap d(decay, L);
      d = (G[L - 1] - ConstVecMap(G, L).array()).exp();
      k_decay = d.asDiagonal() * Kc;
      S_next = eG[L - 1] * S;
      S_next.noalias() += k_decay.transpose() * Vn;
    } else {
      S_next = S;
      S_next.noalias() += Kc.transpose() * Vn;
    }
  }
  if (ht) {
    // with no chunks the final state is S_0 (h0); otherwise the last S_next went to kv0
    if (n_chunks == 0) as_matrix(ht, K, V) = S0;
    else as_matrix(ht, K, V) = as_matrix(ws.kv0.data(), K, V);
  }
  ws.form = DeltaRuleWorkspace::Form::chunk;
  ws.T = in.T; ws.K = K; ws.V = V; ws.n_h = n_h; ws.chunk = C; ws.gated = gated;
}

void gated_delta_rule_chunk_backward(const DeltaRuleInputs& in, const real* d_o, const real* dht,
                                     const DeltaRuleGrads& grads, DeltaRuleWorkspace& ws) {
  check_inputs(in, "gated_delta_rule_chunk_backward");
  if (ws.form != DeltaRuleWorkspace::Form::chunk || ws.T != in.T || ws.K != in.K || ws.V != in.V ||
      ws.n_h != in.n_h || ws.chunk != in.chunk || ws.gated != (in.g != nullptr))
    throw std::logic_error("gated_delta_rule_chunk_backward: workspace does not hold this sequence's chunk forward");
  if (in.T > 0 && (!d_o || !grads.dq || !grads.dk || !grads.dv || !grads.dbeta || (in.g && !grads.dg)))
    throw std::invalid_argument("gated_delta_rule_chunk_backward: missing gradient buffer");
  const Index K = in.K, V = in.V, n_h = in.n_h, C = in.chunk, P = in.positions();
  const Index n_chunks = (P + C - 1) / C;
  const real scale = in.effective_scale();
  const bool gated = in.g != nullptr;

  // dS: gradient w.r.t. the state at the end of the chunk being processed (dH_c), then at its start
  MatMap dS = as_matrix(ws.kv0.data(), K, V);  // [K, V]
  if (dht) dS = as_matrix(dht, K, V);
  else dS.setZero();

  for (Index c = n_chunks - 1; c >= 0; --c) {
    const ChunkGeometry geo = chunk_geometry(c, C, P, n_h);
    const Index L = geo.L, R = geo.R, p0 = geo.p0;
    ConstMatMap S = as_matrix(static_cast<const real*>(ws.chunk_states.data() + c * K * V), K, V);  // [K, V] S_c
    ConstMatMap Kc = as_matrix(in.k + p0 * K, L, K);                                                  // [L, K]
    ConstMatMap Vc = as_matrix(in.v + p0 * V, L, V);                                                  // [L, V]
    ConstVecMap beta(in.beta + p0, L);                                                                // [L]
    const real* G = gated ? ws.g_cum.data() + p0 : nullptr;                                           // [L]
    ConstStridedMatMap t_hat = as_matrix(static_cast<const real*>(ws.t_hat.data() + p0 * C), L, L, C);  // [L, L]
    ConstMatMap W = as_matrix(static_cast<const real*>(ws.w.data() + p0 * K), L, K);                 // [L, K]
    ConstMatMap Vn = as_matrix(static_cast<const real*>(ws.v_new.data() + p0 * V), L, V);            // [L, V]
    MatMap dKc = as_matrix(grads.dk + p0 * K, L, K);                                                  // [L, K]
    MatMap dVc = as_matrix(grads.dv + p0 * V, L, V);                                                  // [L, V]
    VecMap dbeta(grads.dbeta + p0, L);                                                                // [L]
    VecMap eG(ws.c0.data(), L);            // [L] e^{G_i}
    real* decay = ws.c1.data();            // [L] scratch
    VecMap dG(ws.c2.data(), L);            // [L] gradient w.r.t. the chunk-local cumsum G
    VecMap tail_decay(ws.c3.data(), L);    // [L] e^{G_L - G_i}
    if (gated) {
      eG = ConstVecMap(G, L).array().exp();
      tail_decay = (G[L - 1] - ConstVecMap(G, L).array()).exp();
      dG.setZero();
    }

    MatMap dVn = as_matrix(ws.cv1.data(), L, V);  // [L, V] gradient w.r.t. Vn (= dU)
    MatMap ds = as_matrix(ws.cc3.data(), std::max<Index>(R, 1), L);  // [R, L]
    MatMap k_decay = as_matrix(ws.ck1.data(), L, K);                 // [L, K] diag(e^{G_L - G}) K
    if (gated) k_decay = tail_decay.asDiagonal() * Kc;

    // --- steps 1-3 (section 5): everything that reads dH_c = dS, before dS moves to the chunk start
    // dVn = Att^T dO_r + diag(e^{G_L-G}) K dH
    if (gated) dVn.noalias() = k_decay * dS;
    else dVn.noalias() = Kc * dS;
    // dK_st = diag(e^{G_L-G}) Vn dH^T, the path through the state update
    dKc.noalias() = Vn * dS.transpose();
    if (gated) {
      dKc = tail_decay.asDiagonal() * dKc;
      // dG_L gets e^{G_L} <S_c, dH> + sum_i dK_st,i . k_i; every row gets -dK_st,i . k_i (below)
      dG[L - 1] += eG[L - 1] * (S.array() * dS.array()).sum() + (dKc.array() * Kc.array()).sum();
    }
    if (R > 0) {
      ConstMatMap Qr = as_matrix(in.q + geo.t_lo * K, R, K);  // [R, K]
      ConstMatMap dOr = as_matrix(d_o + geo.t_lo * V, R, V);  // [R, V]
      MatMap dQr = as_matrix(grads.dq + geo.t_lo * K, R, K);  // [R, K]
      MatMap att = as_matrix(ws.cc2.data(), R, L);            // [R, L]
      att.noalias() = Qr * Kc.transpose();
      mask_causal_decay(att, geo, n_h, G, scale, decay);
      dVn.noalias() += att.transpose() * dOr;
      // ds = scale tril(dO Vn^T) o Gamma
      ds.noalias() = dOr * Vn.transpose();
      mask_causal_decay(ds, geo, n_h, G, scale, decay);
      // dQ = scale diag(e^{G_pos}) dO S_c^T + ds K
      dQr.noalias() = dOr * S.transpose();
      for (Index r = 0; r < R; ++r) dQr.row(r) *= gated ? scale * eG[geo.query_pos(r, n_h)] : scale;
      dQr.noalias() += ds * Kc;
      dKc.noalias() += ds.transpose() * Qr;
      if (gated)
        for (Index r = 0; r < R; ++r) dG[geo.query_pos(r, n_h)] += dQr.row(r).dot(Qr.row(r));
      // dS (to the chunk start) = e^{G_L} dH + scale (diag(e^{G_pos}) Q_r)^T dO_r - W^T dVn
      MatMap q_scaled = as_matrix(ws.ck4.data(), R, K);  // [R, K]
      for (Index r = 0; r < R; ++r)
        q_scaled.row(r) = (gated ? scale * eG[geo.query_pos(r, n_h)] : scale) * Qr.row(r);
      if (gated) dS *= eG[L - 1];
      dS.noalias() += q_scaled.transpose() * dOr;
    } else if (gated) {
      dS *= eG[L - 1];
    }
    if (gated) dG -= (dKc.array() * Kc.array()).rowwise().sum().matrix();
    dS.noalias() -= W.transpose() * dVn;

    // --- step 4: back through W = T^ diag(beta e^G) K, U = T^ diag(beta) V and T^ = (I+A)^-1
    MatMap dW = as_matrix(ws.ck2.data(), L, K);  // [L, K]
    dW.noalias() = -(dVn * S.transpose());
    MatMap y_w = as_matrix(ws.ck3.data(), L, K);  // [L, K] T^T dW
    y_w.noalias() = t_hat.transpose() * dW;
    dVc.noalias() = t_hat.transpose() * dVn;    // Y_U, scaled by beta below
    // beta-side and gate-side pieces of Y_W . K and Y_U . V
    VecMap yw_dot_k(decay, L);  // [L]
    yw_dot_k = (y_w.array() * Kc.array()).rowwise().sum().matrix();
    dbeta = (dVc.array() * Vc.array()).rowwise().sum().matrix();
    MatMap k_beta_g = as_matrix(ws.ck0.data(), L, K);  // [L, K] diag(beta e^G) K
    MatMap v_beta = as_matrix(ws.cv0.data(), L, V);    // [L, V] diag(beta) V
    if (gated) {
      dbeta.array() += eG.array() * yw_dot_k.array();
      dG.array() += beta.array() * eG.array() * yw_dot_k.array();
      k_beta_g = (beta.array() * eG.array()).matrix().asDiagonal() * Kc;
      dKc.noalias() += (beta.array() * eG.array()).matrix().asDiagonal() * y_w;
    } else {
      dbeta += yw_dot_k;
      k_beta_g = beta.asDiagonal() * Kc;
      dKc.noalias() += beta.asDiagonal() * y_w;
    }
    v_beta = beta.asDiagonal() * Vc;
    dVc = beta.asDiagonal() * dVc;

    // dT^ = dW Kbg^T + dU Vb^T, then dA = -strict_lower(T^T strict_lower(dT^) T^T)
    MatMap d_that = as_matrix(ws.cc0.data(), L, L);  // [L, L]
    d_that.noalias() = dW * k_beta_g.transpose();
    d_that.noalias() += dVn * v_beta.transpose();
    for (Index i = 0; i < L; ++i) d_that.row(i).tail(L - i).setZero();
    MatMap tmp = as_matrix(ws.cc1.data(), L, L);  // [L, L]
    tmp.noalias() = t_hat.transpose() * d_that;
    MatMap dP = as_matrix(ws.cc2.data(), L, L);  // [L, L] dA, then dP = dA o Gamma
    dP.noalias() = -(tmp * t_hat.transpose());
    for (Index i = 0; i < L; ++i) {
      auto row = dP.row(i);
      if (G && i > 0) {
        VecMap d(decay, i);
        d = (G[i] - ConstVecMap(G, i).array()).exp();
        row.head(i).array() *= d.array().transpose();
      }
      row.tail(L - i).setZero();
    }
    // P_ij = beta_i k_i . k_j:  dK += diag(beta) dP K + dP^T diag(beta) K,  dbeta += rowsum((dP K) o K)
    MatMap dp_k = as_matrix(ws.ck2.data(), L, K);     // [L, K] (dW is no longer needed)
    MatMap dpt_kb = as_matrix(ws.ck3.data(), L, K);   // [L, K] (y_w is no longer needed)
    MatMap k_beta = as_matrix(ws.ck0.data(), L, K);   // [L, K] diag(beta) K (k_beta_g is no longer needed)
    dp_k.noalias() = dP * Kc;
    k_beta = beta.asDiagonal() * Kc;
    dpt_kb.noalias() = dP.transpose() * k_beta;
    VecMap dpk_dot_k(decay, L);  // [L]
    dpk_dot_k = (dp_k.array() * Kc.array()).rowwise().sum().matrix();
    dbeta += dpk_dot_k;
    dKc.noalias() += beta.asDiagonal() * dp_k;
    dKc += dpt_kb;
    if (gated) {
      // rowsum(dA o A) - colsum(dA o A) with A = beta_i (k_i.k_j) Gamma_ij, dP = dA o Gamma
      dG.array() += beta.array() * dpk_dot_k.array() - (dpt_kb.array() * Kc.array()).rowwise().sum();
      // dg_t is the reverse chunk-local cumsum of dG at the token's sub-step-0 position
      real acc = 0;
      for (Index i = L - 1; i >= 0; --i) {
        acc += dG[i];
        if ((p0 + i) % n_h == 0) grads.dg[(p0 + i) / n_h] = acc;
      }
    }
  }
  if (grads.dh0) as_matrix(grads.dh0, K, V) = dS;
}

}  // namespace db
