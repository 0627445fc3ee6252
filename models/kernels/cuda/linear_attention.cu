// linear_attention.cu: chunkwise (gated) linear attention on the GPU (see the header).
//
// Four kernels:
//   chunk_cumsum     b = chunk-local inclusive cumulative sum of g, in double (one thread per chunk)
//   chunk_state_scan the sequential pass over chunks, one block per (sequence, 64x64 state tile);
//                    forward: S_{c+1} = e^{b_last} S_c + sum_j e^{b_last-b_j} k_j v_j^T, saving S_c;
//                    reverse: dS_c = e^{b_last} dS_{c+1} + scale sum_i e^{b_i} q_i do_i^T, saving dS_{c+1}
//   chunk_attend     one block per (sequence, chunk, 64-wide output tile), the generic chunk product
//                      out[r,:] = a_inter f_r X_r M + a_intra sum_{s valid} w_rs (X_r . Y_s) Z_s
//                    which is o (X=q, Y=k, Z=v, M=S_c), dv (X=k, Y=q, Z=do, M=dS_{c+1}),
//                    dq (X=do, Y=v, Z=k, M=S_c^T) and dk (X=v, Y=do, Z=q, M=dS_{c+1}^T); causal
//                    (s <= r, w = e^{b_r-b_s}, f_r = e^{b_r}) or anti-causal (s >= r,
//                    w = e^{b_s-b_r}, f_r = e^{b_last-b_r})
//   chunk_gate_grad  dg: per chunk, dL/db_i = q_i.dq_i - k_i.dk_i (+ <dS_{c+1}, S_{c+1}> on the last
//                    row), summed from the chunk's end (double accumulation: the terms cancel)
// The gate's contribution to dL/db follows from b entering q_i as e^{b_i} q_i, k_j as e^{-b_j} k_j
// and the chunk's end state as a whole factor e^{b_last}; g_t for t in the chunk is in every b_i
// with i >= t. The chunk's start state does not depend on its own gates. Every sum runs in a fixed
// order (no atomics), so a run gives the same bits every time.
#include "models/kernels/cuda/linear_attention.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace db::cuda {

namespace {

constexpr int kC = kLinearAttentionChunk;  // chunk length
constexpr int kTile = 64;                  // output / state tile width
constexpr int kRed = 32;                   // reduction slice of chunk_attend
constexpr int kBlock = 256;                // threads: a 16 x 16 grid, 4 x 4 elements each
static_assert(kC == 64 && kTile == 64 && kBlock == 256, "the 16x16 thread grid covers 64x64 tiles");

__device__ __forceinline__ double warp_sum_double(double v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// b[s, t] = g[s, t0] + ... + g[s, t] for t in the chunk starting at t0; one thread per (sequence, chunk)
__global__ void chunk_cumsum(const float* __restrict__ g, double* __restrict__ b, int S, int T, int n_chunks) {
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<long long>(S) * n_chunks) return;
  const long long s = idx / n_chunks;
  const int c = static_cast<int>(idx % n_chunks);
  const long long base = s * T;
  const int t0 = c * kC, t1 = min(T, t0 + kC);
  double acc = 0;
  for (int t = t0; t < t1; ++t) {
    acc += static_cast<double>(g[base + t]);
    b[base + t] = acc;
  }
}

// The pass over chunks for one (sequence, K tile, V tile); grid (S, ceil(K/64), ceil(V/64)).
// Forward (kReverse false): St starts at init (h0), then per chunk c in order: states[c] = St,
//   St = e^{b_last} St + sum_j e^{b_last - b_j} A_j B_j^T; at the end states[N] = St (and final).
// Reverse: St starts at init (dht), then per chunk c backwards: states[c+1] = St,
//   St = e^{b_last} St + alpha sum_j e^{b_j} A_j B_j^T; at the end states[0] = St (and final).
// A [S, T, K], B [S, T, V], states [S, N+1, K, V], init / final [S, K, V] or null.
template <bool kReverse>
__global__ void __launch_bounds__(kBlock) chunk_state_scan(const float* __restrict__ A, const float* __restrict__ B,
                                                           const double* __restrict__ b, const float* __restrict__ init,
                                                           float alpha, float* __restrict__ states,
                                                           float* __restrict__ final_state, int T, int K, int V,
                                                           int n_chunks) {
  __shared__ float As[kC][kTile + 1];  // [row j, key k] weighted by w_j
  __shared__ float Bs[kC][kTile + 1];  // [row j, value v]
  __shared__ float w[kC];
  __shared__ float decay;
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const long long s = blockIdx.x;
  const int k0 = blockIdx.y * kTile, v0 = blockIdx.z * kTile;
  const long long KV = static_cast<long long>(K) * V;

  float st[4][4];
#pragma unroll
  for (int a = 0; a < 4; ++a)
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      const int kk = k0 + ty + 16 * a, vv = v0 + tx + 16 * c;
      st[a][c] = (init && kk < K && vv < V) ? init[s * KV + static_cast<long long>(kk) * V + vv] : 0.f;
    }
  float* out = states + s * (n_chunks + 1) * KV;

  auto store = [&](int slot) {
#pragma unroll
    for (int a = 0; a < 4; ++a)
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int kk = k0 + ty + 16 * a, vv = v0 + tx + 16 * c;
        if (kk < K && vv < V) out[slot * KV + static_cast<long long>(kk) * V + vv] = st[a][c];
      }
  };

  for (int step = 0; step < n_chunks; ++step) {
    const int c = kReverse ? n_chunks - 1 - step : step;
    store(kReverse ? c + 1 : c);
    const int t0 = c * kC, L = min(kC, T - t0);
    const long long row0 = s * T + t0;
    __syncthreads();  // the previous chunk's reads of As, Bs, w are done
    if (tid < kC) {
      const double bl = b ? b[row0 + L - 1] : 0.0;
      float wj = 0.f;
      if (tid < L) {
        const double bj = b ? b[row0 + tid] : 0.0;
        wj = kReverse ? alpha * expf(static_cast<float>(bj)) : expf(static_cast<float>(bl - bj));
      }
      w[tid] = wj;
      if (tid == 0) decay = expf(static_cast<float>(bl));
    }
    for (int e = tid; e < kC * kTile; e += kBlock) {
      const int j = e / kTile, col = e % kTile;
      As[j][col] = (j < L && k0 + col < K) ? A[(row0 + j) * K + k0 + col] : 0.f;
      Bs[j][col] = (j < L && v0 + col < V) ? B[(row0 + j) * V + v0 + col] : 0.f;
    }
    __syncthreads();
    float upd[4][4] = {};
    for (int j = 0; j < L; ++j) {
      float x[4], y[4];
#pragma unroll
      for (int a = 0; a < 4; ++a) x[a] = w[j] * As[j][ty + 16 * a];
#pragma unroll
      for (int a = 0; a < 4; ++a) y[a] = Bs[j][tx + 16 * a];
#pragma unroll
      for (int a = 0; a < 4; ++a)
#pragma unroll
        for (int cc = 0; cc < 4; ++cc) upd[a][cc] += x[a] * y[cc];
    }
    const float d = decay;
#pragma unroll
    for (int a = 0; a < 4; ++a)
#pragma unroll
      for (int cc = 0; cc < 4; ++cc) st[a][cc] = d * st[a][cc] + upd[a][cc];
  }
  store(kReverse ? 0 : n_chunks);
  if (final_state) {
#pragma unroll
    for (int a = 0; a < 4; ++a)
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int kk = k0 + ty + 16 * a, vv = v0 + tx + 16 * c;
        if (kk < K && vv < V) final_state[s * KV + static_cast<long long>(kk) * V + vv] = st[a][c];
      }
  }
}

// One (sequence, chunk, output tile); grid (S, N, ceil(D2/64)).
//   out[r, e] = a_inter f_r sum_d X[r,d] M(d,e) + a_intra sum_{s valid(r)} w_rs (X_r . Y_s) Z[s,e]
// X, Y [S, T, D1]; Z, out [S, T, D2]; M is the chunk's matrix in a [S, N+1, ...] stack (slot
// c + m_offset): M(d,e) = M[d*D2 + e], or with kTransM M[e*D1 + d]. b null: no gate (all factors 1).
template <bool kAnti, bool kTransM>
__global__ void __launch_bounds__(kBlock) chunk_attend(const float* __restrict__ X, const float* __restrict__ Y,
                                                       const float* __restrict__ Z, const float* __restrict__ M,
                                                       int m_offset, const double* __restrict__ b, float alpha_intra,
                                                       float alpha_inter, float* __restrict__ out, int T, int D1,
                                                       int D2, int n_chunks) {
  constexpr int kPhase1 = 2 * kC * (kRed + 1) + kRed * (kTile + 1);
  constexpr int kPhase2 = 2 * kC * (kTile + 1);
  static_assert(kPhase1 <= kPhase2, "phase 1 fits in the shared buffer");
  __shared__ float smem[kPhase2];
  __shared__ double bs[kC];
  // phase 1: slices of X, Y (rows of the chunk) and M
  auto Xs = reinterpret_cast<float(*)[kRed + 1]>(smem);
  auto Ys = reinterpret_cast<float(*)[kRed + 1]>(smem + kC * (kRed + 1));
  auto Ms = reinterpret_cast<float(*)[kTile + 1]>(smem + 2 * kC * (kRed + 1));
  // phase 2: the masked, decayed chunk matrix and the Z tile
  auto As = reinterpret_cast<float(*)[kC + 1]>(smem);
  auto Zs = reinterpret_cast<float(*)[kTile + 1]>(smem + kC * (kC + 1));

  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const long long s = blockIdx.x;
  const int c = blockIdx.y, e0 = blockIdx.z * kTile;
  const int t0 = c * kC, L = min(kC, T - t0);
  const long long row0 = s * T + t0;
  const float* Mc = M + (s * (n_chunks + 1) + c + m_offset) * static_cast<long long>(D1) * D2;
  if (tid < kC) bs[tid] = (b && tid < L) ? b[row0 + tid] : 0.0;

  float att[4][4] = {}, acc[4][4] = {};
  for (int d0 = 0; d0 < D1; d0 += kRed) {
    __syncthreads();  // the previous slice has been read
    for (int e = tid; e < kC * kRed; e += kBlock) {
      const int r = e / kRed, d = e % kRed;
      const bool ok = r < L && d0 + d < D1;
      Xs[r][d] = ok ? X[(row0 + r) * D1 + d0 + d] : 0.f;
      Ys[r][d] = ok ? Y[(row0 + r) * D1 + d0 + d] : 0.f;
    }
    for (int e = tid; e < kRed * kTile; e += kBlock) {
      if (kTransM) {
        const int col = e / kRed, d = e % kRed;
        Ms[d][col] = (d0 + d < D1 && e0 + col < D2) ? Mc[static_cast<long long>(e0 + col) * D1 + d0 + d] : 0.f;
      } else {
        const int d = e / kTile, col = e % kTile;
        Ms[d][col] = (d0 + d < D1 && e0 + col < D2) ? Mc[static_cast<long long>(d0 + d) * D2 + e0 + col] : 0.f;
      }
    }
    __syncthreads();
#pragma unroll 4
    for (int d = 0; d < kRed; ++d) {
      float x[4], y[4], m[4];
#pragma unroll
      for (int a = 0; a < 4; ++a) {
        x[a] = Xs[ty + 16 * a][d];
        y[a] = Ys[tx + 16 * a][d];
        m[a] = Ms[d][tx + 16 * a];
      }
#pragma unroll
      for (int a = 0; a < 4; ++a)
#pragma unroll
        for (int cc = 0; cc < 4; ++cc) {
          att[a][cc] += x[a] * y[cc];
          acc[a][cc] += x[a] * m[cc];
        }
    }
  }
  __syncthreads();  // phase 1 reads are done; the buffer is reused

  const double bl = bs[L - 1];
#pragma unroll
  for (int a = 0; a < 4; ++a) {
    const int r = ty + 16 * a;
    const float f = alpha_inter * (kAnti ? expf(static_cast<float>(bl - bs[r])) : expf(static_cast<float>(bs[r])));
#pragma unroll
    for (int cc = 0; cc < 4; ++cc) {
      const int col = tx + 16 * cc;
      const bool valid = r < L && col < L && (kAnti ? col >= r : col <= r);
      float v = 0.f;
      if (valid) {
        const double diff = kAnti ? bs[col] - bs[r] : bs[r] - bs[col];
        v = alpha_intra * expf(static_cast<float>(diff)) * att[a][cc];
      }
      As[r][col] = v;
      acc[a][cc] *= f;
    }
  }
  for (int e = tid; e < kC * kTile; e += kBlock) {
    const int r = e / kTile, col = e % kTile;
    Zs[r][col] = (r < L && e0 + col < D2) ? Z[(row0 + r) * D2 + e0 + col] : 0.f;
  }
  __syncthreads();
  for (int j = 0; j < L; ++j) {
    float x[4], z[4];
#pragma unroll
    for (int a = 0; a < 4; ++a) {
      x[a] = As[ty + 16 * a][j];
      z[a] = Zs[j][tx + 16 * a];
    }
#pragma unroll
    for (int a = 0; a < 4; ++a)
#pragma unroll
      for (int cc = 0; cc < 4; ++cc) acc[a][cc] += x[a] * z[cc];
  }
#pragma unroll
  for (int a = 0; a < 4; ++a) {
    const int r = ty + 16 * a;
    if (r >= L) continue;
#pragma unroll
    for (int cc = 0; cc < 4; ++cc) {
      const int col = e0 + tx + 16 * cc;
      if (col < D2) out[(row0 + r) * D2 + col] = acc[a][cc];
    }
  }
}

// dg for one (sequence, chunk); grid (S, N). dq, dk complete; states / dstates [S, N+1, K, V].
__global__ void __launch_bounds__(kBlock) chunk_gate_grad(const float* __restrict__ q, const float* __restrict__ k,
                                                          const float* __restrict__ dq, const float* __restrict__ dk,
                                                          const float* __restrict__ states,
                                                          const float* __restrict__ dstates, float* __restrict__ dg,
                                                          int T, int K, int V, int n_chunks) {
  __shared__ double row[kC];
  __shared__ double partial[kBlock / 32];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const long long s = blockIdx.x;
  const int c = blockIdx.y;
  const int t0 = c * kC, L = min(kC, T - t0);
  const long long row0 = s * T + t0;
  for (int i = warp; i < L; i += kBlock / 32) {
    const long long base = (row0 + i) * K;
    double sum = 0;
    for (int kk = lane; kk < K; kk += 32)
      sum += static_cast<double>(q[base + kk]) * dq[base + kk] - static_cast<double>(k[base + kk]) * dk[base + kk];
    sum = warp_sum_double(sum);
    if (lane == 0) row[i] = sum;
  }
  // <dS_{c+1}, S_{c+1}>: the end state carries the whole chunk's decay e^{b_last}
  const long long KV = static_cast<long long>(K) * V;
  const long long slot = (s * (n_chunks + 1) + c + 1) * KV;
  double end = 0;
  for (long long i = tid; i < KV; i += kBlock) end += static_cast<double>(states[slot + i]) * dstates[slot + i];
  end = warp_sum_double(end);
  if (lane == 0) partial[warp] = end;
  __syncthreads();
  if (tid == 0) {
    double total = 0;
    for (int w = 0; w < kBlock / 32; ++w) total += partial[w];
    for (int i = L - 1; i >= 0; --i) {
      total += row[i];
      dg[row0 + i] = static_cast<float>(total);
    }
  }
}

void check_inputs(const GpuLinearAttentionInputs& in, const char* who) {
  if (in.S < 0 || in.T < 0 || in.K <= 0 || in.V <= 0)
    throw std::invalid_argument(std::string(who) + ": need S >= 0, T >= 0, K > 0, V > 0");
  if (in.S > 0 && in.T > 0 && (!in.q || !in.k || !in.v))
    throw std::invalid_argument(std::string(who) + ": q, k, v are required");
  if ((in.T + kC - 1) / kC > 65535 || (in.K + kTile - 1) / kTile > 65535 || (in.V + kTile - 1) / kTile > 65535)
    throw std::invalid_argument(std::string(who) + ": sequence or state too large for the launch grid");
}

int chunk_count(int T) { return (T + kC - 1) / kC; }
unsigned tiles(int n) { return static_cast<unsigned>((n + kTile - 1) / kTile); }

}  // namespace

float GpuLinearAttentionInputs::effective_scale() const {
  return scale != 0.f ? scale : 1.f / std::sqrt(static_cast<float>(K));  // as the CPU kernel computes it
}

void linear_attention_forward(const Context& ctx, const GpuLinearAttentionInputs& in, float* o, float* ht,
                              GpuLinearAttentionWorkspace& ws) {
  check_inputs(in, "linear_attention_forward");
  const int S = in.S, T = in.T, K = in.K, V = in.V, N = chunk_count(T);
  const float scale = in.effective_scale();
  ws.S = S, ws.T = T, ws.K = K, ws.V = V, ws.gated = in.g != nullptr, ws.forward_done = true;
  if (S == 0) return;
  cudaStream_t stream = ctx.stream();
  const double* b = nullptr;
  if (in.g && T > 0) {
    b = ws.gate_cumsum.resize(static_cast<size_t>(S) * T);
    const long long threads = static_cast<long long>(S) * N;
    chunk_cumsum<<<blocks_for(static_cast<size_t>(threads)), kThreads, 0, stream>>>(in.g, ws.gate_cumsum.data(), S,
                                                                                     T, N);
    DB_CUDA_CHECK_LAUNCH();
  }
  float* states = ws.states.resize(static_cast<size_t>(S) * (N + 1) * K * V);
  chunk_state_scan<false><<<dim3(S, tiles(K), tiles(V)), kBlock, 0, stream>>>(in.k, in.v, b, in.h0, 1.f, states, ht,
                                                                              T, K, V, N);
  DB_CUDA_CHECK_LAUNCH();
  if (N == 0) return;
  // o = scale (diag(e^b) Q S_c + (tril(Q K^T) . D) V)
  chunk_attend<false, false><<<dim3(S, N, tiles(V)), kBlock, 0, stream>>>(in.q, in.k, in.v, states, 0, b, scale,
                                                                          scale, o, T, K, V, N);
  DB_CUDA_CHECK_LAUNCH();
}

void linear_attention_backward(const Context& ctx, const GpuLinearAttentionInputs& in, const float* d_o,
                               const float* dht, const GpuLinearAttentionGrads& grads, GpuLinearAttentionWorkspace& ws) {
  check_inputs(in, "linear_attention_backward");
  if (!ws.forward_done || ws.S != in.S || ws.T != in.T || ws.K != in.K || ws.V != in.V || ws.gated != (in.g != nullptr))
    throw std::logic_error("linear_attention_backward: the workspace does not hold the forward of these inputs");
  const int S = in.S, T = in.T, K = in.K, V = in.V, N = chunk_count(T);
  const float scale = in.effective_scale();
  if (S == 0) return;
  if (T > 0 && (!d_o || !grads.dq || !grads.dk || !grads.dv))
    throw std::invalid_argument("linear_attention_backward: d_o, dq, dk, dv are required");
  cudaStream_t stream = ctx.stream();
  const double* b = in.g && T > 0 ? ws.gate_cumsum.data() : nullptr;
  const float* states = ws.states.data();
  float* dstates = ws.dstates.resize(static_cast<size_t>(S) * (N + 1) * K * V);
  // dS_c = e^{b_last} dS_{c+1} + scale (diag(e^b) Q)^T dO, from dht backwards; [0] is dh0
  chunk_state_scan<true><<<dim3(S, tiles(K), tiles(V)), kBlock, 0, stream>>>(in.q, d_o, b, dht, scale, dstates,
                                                                             grads.dh0, T, K, V, N);
  DB_CUDA_CHECK_LAUNCH();
  if (N == 0) return;
  // dv = (scale tril(Q K^T) . D)^T dO + diag(e^{b_last - b}) K dS_{c+1}
  chunk_attend<true, false><<<dim3(S, N, tiles(V)), kBlock, 0, stream>>>(in.k, in.q, d_o, dstates, 1, b, scale, 1.f,
                                                                         grads.dv, T, K, V, N);
  DB_CUDA_CHECK_LAUNCH();
  // dq = scale (diag(e^b) dO S_c^T + (tril(dO V^T) . D) K)
  chunk_attend<false, true><<<dim3(S, N, tiles(K)), kBlock, 0, stream>>>(d_o, in.v, in.k, states, 0, b, scale, scale,
                                                                         grads.dq, T, V, K, N);
  DB_CUDA_CHECK_LAUNCH();
  // dk = (scale tril(dO V^T) . D)^T Q + diag(e^{b_last - b}) V dS_{c+1}^T
  chunk_attend<true, true><<<dim3(S, N, tiles(K)), kBlock, 0, stream>>>(in.v, d_o, in.q, dstates, 1, b, scale, 1.f,
                                                                        grads.dk, T, V, K, N);
  DB_CUDA_CHECK_LAUNCH();
  if (in.g && grads.dg) {
    chunk_gate_grad<<<dim3(S, N), kBlock, 0, stream>>>(in.q, in.k, grads.dq, grads.dk, states, dstates, grads.dg, T, K,
                                                       V, N);
    DB_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace db::cuda
