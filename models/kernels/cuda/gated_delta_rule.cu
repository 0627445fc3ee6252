// gated_delta_rule.cu: the chunkwise gated delta rule on the GPU, forward and backward (see the header).
//
// Notation as in docs/delta-rule-math.md sections 4-7: chunk c covers positions [p0, p0+L) of the
// interleaved sequence (L <= 64); its query rows are tokens [t_lo, t_lo+R), token t_lo+r read at
// in-chunk position pi_r; G is the chunk-local cumulative gate, Gamma_ij = e^{G_i - G_j},
// D = diag(e^{G_L - G}) with G_L = G_{L-1}. Every per-chunk matrix is held as a zero-padded
// 64-row tile (rows >= L or >= R are zeros), and the K and V dimensions are walked in tiles of
// F = 32 or 64 columns (zero-padded), so every product is a fixed-size tile product:
//   - a block of 256 threads is a 16 x 16 grid; a thread owns rows ty + 16i and columns tx + 16j of
//     an M x N fragment (registers), and accumulates over the inner dimension from shared memory;
//   - shared tiles have an odd row stride (F+1, 65), so row and column reads are both free of bank
//     conflicts, which lets every product read its operands transposed or not;
//   - per-row sums of a fragment reduce over the 16 threads of a row with shuffles in a fixed tree.
// Each reduction has one fixed order, so results are the same bits on every run. F is 32 when
// K, V <= 32 and 64 otherwise.
//
// Kernels and what they keep (S_c and dH_c are the states and state gradients per chunk):
//   wy_forward     (chunk, seq)       G (the CPU's sequential order), A, T^ by forward substitution
//                                     (row i of T^ from rows < i), W = T^ diag(beta e^G) K and
//                                     U = T^ diag(beta) V.
//   fwd_scan       (V tile, seq)      state tile [K, BV] in shared memory, chunks in order:
//                                     S_c saved, Vn = U - W S_c (over U), S <- e^{G_L} S + K^T D Vn.
//                                     BV = 16, 32 or 64 (scan_tile); the next chunk's inputs are
//                                     loaded into registers while the current one computes.
//   fwd_output     (chunk, seq)       Att = scale tril(Q K^T) o Gamma, o = diag(scale e^{G_pi}) Q S_c + Att Vn.
//   bwd_dvn_local  (chunk, seq)       dVn = Att^T dO.
//   bwd_scan       (V tile, seq)      dS tile, chunks in reverse: dH_c saved, dVn += D K dH_c,
//                                     dS <- e^{G_L} dS + (diag(scale e^{G_pi}) Q)^T dO - W^T dVn
//                                     (BV and prefetch as fwd_scan).
//   bwd_dqk        (K tile, chunk, seq)  ds = scale tril(dO Vn^T) o Gamma, dq = diag(scale e^{G_pi}) dO S_c^T
//                                     + ds K, dK = D Vn dH_c^T + ds^T Q (into dk), dW = -dVn S_c^T, and
//                                     this K tile's share of dL/dG.
//   bwd_wy         (chunk, seq)       Y_W = T^T dW, Y_U = T^T dVn, dT^, dA = -T^T dT^ T^T, dP = dA o Gamma:
//                                     dk += diag(beta e^G) Y_W + diag(beta) dP K + dP^T diag(beta) K,
//                                     dv = diag(beta) Y_U, dbeta, and dg as the reverse in-chunk
//                                     cumulative sum of dL/dG.
#include "models/kernels/cuda/gated_delta_rule.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#include "models/cuda/reduce.cuh"

namespace db::cuda {

extern __shared__ float gdr_smem[];  // every kernel's dynamic shared memory, carved in order

namespace {

constexpr int kC = kDeltaRuleChunk;  // chunk length (positions)
constexpr int kNT = 256;             // threads per block: 16 x 16
constexpr int kLdC = kC + 1;         // row stride of a 64-wide shared tile
static_assert(kC == 64 && kNT == 256, "the substitution and the fragments assume 64-row chunks and 256 threads");

__device__ __forceinline__ int tid_() { return static_cast<int>(threadIdx.x); }
__host__ __device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }

// Problem shape, passed by value to every kernel. nK, nV: tiles of F columns.
struct Dims {
  int T, K, V, n_h, P, N, nK, nV;
  float scale;
  bool gated;
};

// Where chunk c sits in token terms (as ChunkGeometry on the CPU).
struct Chunk {
  int p0, L, t_lo, R;
  __device__ Chunk(int c, const Dims& d)
      : p0(c * kC), L(imin(kC, d.P - c * kC)), t_lo(p0 / d.n_h), R((p0 + L) / d.n_h - p0 / d.n_h) {}
  // in-chunk position of query row r
  __device__ int query_pos(int r, int n_h) const { return (t_lo + r) * n_h + n_h - 1 - p0; }
};

// bump allocator over the dynamic shared memory
struct Carve {
  float* p;
  __device__ float* take(int n) {
    float* r = p;
    p += n;
    return r;
  }
};

// An M x N tile of results in registers: the thread (tx, ty) = (tid % 16, tid / 16) owns rows
// ty + 16 i and columns tx + 16 j.
template <int M, int N>
struct Frag {
  static constexpr int kTY = kNT / 16;
  static constexpr int kTM = M / kTY;
  static constexpr int kTN = N / 16;
  static_assert(M % kTY == 0 && N % 16 == 0, "a fragment covers whole 16-thread rows");
  float a[kTM][kTN];
  __device__ __forceinline__ static int row(int i) { return (tid_() >> 4) + i * kTY; }
  __device__ __forceinline__ static int col(int j) { return (tid_() & 15) + j * 16; }
  __device__ __forceinline__ void zero() {
#pragma unroll
    for (int i = 0; i < kTM; ++i)
#pragma unroll
      for (int j = 0; j < kTN; ++j) a[i][j] = 0.f;
  }
  __device__ __forceinline__ void scale_rows(const float* s) {
#pragma unroll
    for (int i = 0; i < kTM; ++i) {
      const float f = s[row(i)];
#pragma unroll
      for (int j = 0; j < kTN; ++j) a[i][j] *= f;
    }
  }
};

// f (+/-)= op(A) op(B) over an inner dimension KD, operands in shared memory:
// op(A)(m, k) = kTA ? A[k * kLdA + m] : A[m * kLdA + k];  op(B)(k, n) = kTB ? B[n * kLdB + k] : B[k * kLdB + n]
template <int KD, bool kTA, bool kTB, int kLdA, int kLdB, bool kSub = false, int M, int N>
__device__ __forceinline__ void mma(Frag<M, N>& f, const float* A, const float* B) {
  using Fr = Frag<M, N>;
#pragma unroll 4
  for (int k = 0; k < KD; ++k) {
    float a[Fr::kTM], b[Fr::kTN];
#pragma unroll
    for (int i = 0; i < Fr::kTM; ++i) {
      const int m = Fr::row(i);
      a[i] = kTA ? A[k * kLdA + m] : A[m * kLdA + k];
      if (kSub) a[i] = -a[i];
    }
#pragma unroll
    for (int j = 0; j < Fr::kTN; ++j) {
      const int n = Fr::col(j);
      b[j] = kTB ? B[n * kLdB + k] : B[k * kLdB + n];
    }
#pragma unroll
    for (int i = 0; i < Fr::kTM; ++i)
#pragma unroll
      for (int j = 0; j < Fr::kTN; ++j) f.a[i][j] = fmaf(a[i], b[j], f.a[i][j]);
  }
}

// out[m] (= or +=) sum_n f(m, n) X[m * kLdX + n] for every row m of the fragment (all threads call it)
template <int kLdX, int M, int N>
__device__ __forceinline__ void row_dot(const Frag<M, N>& f, const float* X, float* out, bool accumulate) {
  using Fr = Frag<M, N>;
#pragma unroll
  for (int i = 0; i < Fr::kTM; ++i) {
    const int m = Fr::row(i);
    float s = 0.f;
#pragma unroll
    for (int j = 0; j < Fr::kTN; ++j) s = fmaf(f.a[i][j], X[m * kLdX + Fr::col(j)], s);
    s += __shfl_xor_sync(0xffffffffu, s, 8);
    s += __shfl_xor_sync(0xffffffffu, s, 4);
    s += __shfl_xor_sync(0xffffffffu, s, 2);
    s += __shfl_xor_sync(0xffffffffu, s, 1);
    if ((tid_() & 15) == 0) out[m] = accumulate ? out[m] + s : s;
  }
}

// A [R x CC] tile of global memory staged in registers (kPasses elements per thread): loaded early,
// stored to shared memory later, so that the loads' latency overlaps other work. All of a
// thread's loads are issued before any of them is used.
template <int R, int CC>
struct TileRegs {
  static_assert((R * CC) % kNT == 0, "a tile is whole passes of the block");
  static constexpr int kPasses = R * CC / kNT;
  float x[kPasses];
  // rows < rows and columns < cols of src (row stride ld_src); zeros elsewhere
  __device__ __forceinline__ void load(const float* __restrict__ src, long long ld_src, int rows, int cols) {
#pragma unroll
    for (int it = 0; it < kPasses; ++it) {
      const int e = tid_() + it * kNT, r = e / CC, c = e % CC;
      x[it] = (r < rows && c < cols) ? src[r * ld_src + c] : 0.f;
    }
  }
  // dst (row stride LD) <- the tile, each row times row_scale[r] when given
  template <int LD>
  __device__ __forceinline__ void store(float* dst, const float* row_scale = nullptr) const {
#pragma unroll
    for (int it = 0; it < kPasses; ++it) {
      const int e = tid_() + it * kNT, r = e / CC, c = e % CC;
      dst[r * LD + c] = row_scale ? x[it] * row_scale[r] : x[it];
    }
  }
};

// dst [R x CC] (row stride LD) <- src rows < rows and columns < cols (row stride ld_src), each row
// times row_scale[r] when given; zeros elsewhere. (A plain loop: staging whole tiles in registers,
// as TileRegs does, costs the chunk-parallel kernels half their registers for no gain, since other
// resident blocks hide the latency there.)
template <int R, int CC, int LD>
__device__ __forceinline__ void load_tile(float* dst, const float* __restrict__ src, long long ld_src, int rows, int cols,
                                          const float* row_scale = nullptr) {
  for (int e = tid_(); e < R * CC; e += kNT) {
    const int r = e / CC, c = e % CC;
    float x = 0.f;
    if (r < rows && c < cols) {
      x = src[r * ld_src + c];
      if (row_scale) x *= row_scale[r];
    }
    dst[r * LD + c] = x;
  }
}

// shared-memory sizes in floats (the kernels carve in the same order)
__host__ __device__ constexpr int smem_wy_forward(int F) { return 2 * kC * kLdC + kC * (F + 1) + 4 * kC; }
__host__ __device__ constexpr int smem_scan_fwd(int F, int BV, int KP) {
  return KP * (BV + 1) + 2 * kC * (F + 1) + kC * (BV + 1) + kC + 4;
}
__host__ __device__ constexpr int smem_output(int F) { return kC * kLdC + 2 * kC * (F + 1) + F * (F + 1) + 2 * kC; }
__host__ __device__ constexpr int smem_scan_bwd(int F, int BV, int KP) {
  return KP * (BV + 1) + 3 * kC * (F + 1) + 2 * kC * (BV + 1) + 2 * kC + 4;
}
__host__ __device__ constexpr int smem_dqk(int F) {
  return kC * kLdC + 3 * kC * (F + 1) + 2 * F * (F + 1) + 6 * kC + 32 + 4;
}
__host__ __device__ constexpr int smem_wy_backward(int F) { return 3 * kC * kLdC + 3 * kC * (F + 1) + 9 * kC; }

// ------------------------------------------------------------------------------------------------
// forward

// Per (chunk, sequence): G into g_cum, T^ = (I+A)^-1 into t_hat, W into w, U into u.
template <int F>
__global__ void __launch_bounds__(kNT)
    wy_forward(Dims d, const float* __restrict__ k, const float* __restrict__ v, const float* __restrict__ beta,
               const float* __restrict__ g, float* __restrict__ g_cum, float* __restrict__ t_hat,
               float* __restrict__ w, float* __restrict__ u) {
  constexpr int LdF = F + 1;
  Carve sm{gdr_smem};
  float* Am = sm.take(kC * kLdC);  // A, strictly lower
  float* Ti = sm.take(kC * kLdC);  // T^
  float* X = sm.take(kC * LdF);    // a K or V tile
  float* bs = sm.take(kC);         // beta (0 on padding rows)
  float* Gs = sm.take(kC);         // G
  float* cs = sm.take(kC);         // beta e^G
  float* gp = sm.take(kC);         // the gate at each position (0 off sub-step 0)
  const int tid = tid_();
  const int c = static_cast<int>(blockIdx.x);
  const long long s = blockIdx.y;
  const Chunk ch(c, d);
  const int L = ch.L;
  const long long row0 = s * d.P + ch.p0;  // first position row of the chunk

  if (tid < kC) {
    bs[tid] = tid < L ? beta[row0 + tid] : 0.f;
    const int p = ch.p0 + tid;
    gp[tid] = (d.gated && tid < L && p % d.n_h == 0) ? g[s * d.T + p / d.n_h] : 0.f;
  }
  __syncthreads();
  if (tid < kC) {
    float acc = 0.f;
    for (int m = 0; m <= tid; ++m) acc += gp[m];  // the CPU's order (adding 0 changes nothing)
    Gs[tid] = acc;
    if (tid < L) g_cum[row0 + tid] = acc;
    cs[tid] = d.gated ? bs[tid] * expf(acc) : bs[tid];
  }

  // K K^T
  Frag<kC, kC> kk;
  kk.zero();
  for (int kt = 0; kt < d.nK; ++kt) {
    __syncthreads();
    load_tile<kC, F, LdF>(X, k + row0 * d.K + kt * F, d.K, L, d.K - kt * F);
    __syncthreads();
    mma<F, false, true, LdF, LdF>(kk, X, X);
  }
  // A_ij = beta_i (k_i . k_j) Gamma_ij for j < i < L (as build_unit_lower); T^ starts as I
#pragma unroll
  for (int i = 0; i < kk.kTM; ++i)
#pragma unroll
    for (int j = 0; j < kk.kTN; ++j) {
      const int m = kk.row(i), n = kk.col(j);
      float a = 0.f;
      if (m < L && n < m) a = d.gated ? kk.a[i][j] * (expf(Gs[m] - Gs[n]) * bs[m]) : bs[m] * kk.a[i][j];
      Am[m * kLdC + n] = a;
    }
  for (int e = tid; e < kC * kC; e += kNT) {
    const int r = e / kC, cc = e % kC;
    Ti[r * kLdC + cc] = r == cc ? 1.f : 0.f;
  }
  __syncthreads();
  // forward substitution: T^_ij = -sum_{j <= m < i} A_im T^_mj; four threads per column j
  {
    const int j = tid >> 2, part = tid & 3;
    for (int i = 1; i < L; ++i) {
      float sum = 0.f;
      if (j < i)
        for (int m = j + part; m < i; m += 4) sum = fmaf(Am[i * kLdC + m], Ti[m * kLdC + j], sum);
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      if (j < i && part == 0) Ti[i * kLdC + j] = -sum;
      __syncthreads();
    }
  }
  float* th = t_hat + (s * d.N + c) * static_cast<long long>(kC * kC);
  for (int e = tid; e < kC * kC; e += kNT) th[e] = Ti[(e / kC) * kLdC + e % kC];

  // W = T^ diag(beta e^G) K
  for (int kt = 0; kt < d.nK; ++kt) {
    __syncthreads();
    load_tile<kC, F, LdF>(X, k + row0 * d.K + kt * F, d.K, L, d.K - kt * F, cs);
    __syncthreads();
    Frag<kC, F> f;
    f.zero();
    mma<kC, false, false, kLdC, LdF>(f, Ti, X);
    const int cols = d.K - kt * F;
#pragma unroll
    for (int i = 0; i < f.kTM; ++i)
#pragma unroll
      for (int j = 0; j < f.kTN; ++j) {
        const int m = f.row(i), n = f.col(j);
        if (m < L && n < cols) w[(row0 + m) * d.K + kt * F + n] = f.a[i][j];
      }
  }
  // U = T^ diag(beta) V
  for (int vt = 0; vt < d.nV; ++vt) {
    __syncthreads();
    load_tile<kC, F, LdF>(X, v + row0 * d.V + vt * F, d.V, L, d.V - vt * F, bs);
    __syncthreads();
    Frag<kC, F> f;
    f.zero();
    mma<kC, false, false, kLdC, LdF>(f, Ti, X);
    const int cols = d.V - vt * F;
#pragma unroll
    for (int i = 0; i < f.kTM; ++i)
#pragma unroll
      for (int j = 0; j < f.kTN; ++j) {
        const int m = f.row(i), n = f.col(j);
        if (m < L && n < cols) u[(row0 + m) * d.V + vt * F + n] = f.a[i][j];
      }
  }
}

// Per (V tile of BV columns, sequence): the chunks in order, the state tile [K, BV] in shared
// memory. Saves S_c, turns U into Vn = U - W S_c in place, and writes the final state to ht. What
// a chunk reads from global memory (W and K of the first K tile, U, G) is loaded while the
// previous chunk computes.
template <int F, int BV>
__global__ void __launch_bounds__(kNT)
    fwd_scan(Dims d, const float* __restrict__ k, const float* __restrict__ w, float* __restrict__ u_vn,
             const float* __restrict__ g_cum, const float* __restrict__ h0, float* __restrict__ states,
             float* __restrict__ ht) {
  constexpr int LdF = F + 1, LdB = BV + 1;
  using Acc = Frag<kC, BV>;
  const int KP = d.nK * F;
  Carve sm{gdr_smem};
  float* St = sm.take(KP * LdB);  // the state tile, rows >= K zero
  float* Wb = sm.take(kC * LdF);
  float* Kb = sm.take(kC * LdF);
  float* Vd = sm.take(kC * LdB);  // D Vn
  float* Ds = sm.take(kC);        // e^{G_L - G_i} (0 on padding rows)
  float* misc = sm.take(4);       // [0] e^{G_L}
  const int tid = tid_();
  const long long s = blockIdx.y;
  const int v0 = static_cast<int>(blockIdx.x) * BV, vc = imin(BV, d.V - v0);
  const long long KV = static_cast<long long>(d.K) * d.V;

  // the next chunk's inputs, in registers
  TileRegs<kC, F> w_next, k_next;
  float u_next[Acc::kTM][Acc::kTN];  // U at this thread's fragment positions
  float g_next = 0.f, gl_next = 0.f;  // G_tid (tid < 64) and G_L
  auto prefetch = [&](int c) {
    const Chunk ch(c, d);
    const long long row0 = s * d.P + ch.p0;
    w_next.load(w + row0 * d.K, d.K, ch.L, d.K);
    k_next.load(k + row0 * d.K, d.K, ch.L, d.K);
#pragma unroll
    for (int i = 0; i < Acc::kTM; ++i)
#pragma unroll
      for (int j = 0; j < Acc::kTN; ++j) {
        const int m = Acc::row(i), n = Acc::col(j);
        u_next[i][j] = (m < ch.L && n < vc) ? u_vn[(row0 + m) * d.V + v0 + n] : 0.f;
      }
    if (tid < kC) {
      gl_next = g_cum[row0 + ch.L - 1];
      g_next = tid < ch.L ? g_cum[row0 + tid] : 0.f;
    }
  };

  for (int e = tid; e < KP * BV; e += kNT) {
    const int r = e / BV, n = e % BV;
    St[r * LdB + n] = (h0 && r < d.K && n < vc) ? h0[s * KV + static_cast<long long>(r) * d.V + v0 + n] : 0.f;
  }
  prefetch(0);
  for (int c = 0; c < d.N; ++c) {
    const Chunk ch(c, d);
    const int L = ch.L;
    const long long row0 = s * d.P + ch.p0;
    __syncthreads();  // St is current; the previous chunk's reads of Wb, Kb, Vd, Ds, misc are done
    w_next.template store<LdF>(Wb);
    k_next.template store<LdF>(Kb);
    float u_cur[Acc::kTM][Acc::kTN];
#pragma unroll
    for (int i = 0; i < Acc::kTM; ++i)
#pragma unroll
      for (int j = 0; j < Acc::kTN; ++j) u_cur[i][j] = u_next[i][j];
    if (tid < kC) {
      Ds[tid] = tid < L ? expf(gl_next - g_next) : 0.f;
      if (tid == 0) misc[0] = expf(gl_next);
    }
    float* Sc = states + (s * d.N + c) * KV;
    for (int e = tid; e < d.K * BV; e += kNT) {
      const int r = e / BV, n = e % BV;
      if (n < vc) Sc[static_cast<long long>(r) * d.V + v0 + n] = St[r * LdB + n];
    }
    __syncthreads();
    if (c + 1 < d.N) prefetch(c + 1);

    // W S_c
    Acc acc;
    acc.zero();
    for (int kt = 0; kt < d.nK; ++kt) {
      if (kt > 0) {
        __syncthreads();
        load_tile<kC, F, LdF>(Wb, w + row0 * d.K + kt * F, d.K, L, d.K - kt * F);
        __syncthreads();
      }
      mma<F, false, false, LdF, LdB>(acc, Wb, St + kt * F * LdB);
    }
    // Vn = U - W S_c (over U), and D Vn for the state update
#pragma unroll
    for (int i = 0; i < Acc::kTM; ++i)
#pragma unroll
      for (int j = 0; j < Acc::kTN; ++j) {
        const int m = Acc::row(i), n = Acc::col(j);
        float vn = 0.f;
        if (m < L && n < vc) {
          vn = u_cur[i][j] - acc.a[i][j];
          u_vn[(row0 + m) * d.V + v0 + n] = vn;
        }
        Vd[m * LdB + n] = Ds[m] * vn;
      }
    __syncthreads();  // Vd complete; every read of St for W S_c is done

    // S_{c+1} = e^{G_L} S_c + K^T D Vn
    const float eGL = misc[0];
    for (int kt = 0; kt < d.nK; ++kt) {
      if (kt > 0) {
        load_tile<kC, F, LdF>(Kb, k + row0 * d.K + kt * F, d.K, L, d.K - kt * F);
        __syncthreads();
      }
      Frag<F, BV> up;
      up.zero();
      mma<kC, true, false, LdF, LdB>(up, Kb, Vd);
      float* Sk = St + kt * F * LdB;
#pragma unroll
      for (int i = 0; i < up.kTM; ++i)
#pragma unroll
        for (int j = 0; j < up.kTN; ++j) {
          float& x = Sk[up.row(i) * LdB + up.col(j)];
          x = eGL * x + up.a[i][j];
        }
      __syncthreads();  // Kb free for the next tile
    }
  }
  if (ht) {
    for (int e = tid; e < d.K * BV; e += kNT) {
      const int r = e / BV, n = e % BV;
      if (n < vc) ht[s * KV + static_cast<long long>(r) * d.V + v0 + n] = St[r * LdB + n];
    }
  }
}

// Att [64 x 64] = scale tril(Q_r K^T) o Gamma restricted to j <= pi_r (as mask_causal_decay).
// Leaves the Q tile of the last K tile in Qb. Gs must be written (it is read after a barrier).
template <int F>
__device__ void chunk_attention(const Dims& d, const Chunk& ch, long long s, const float* __restrict__ q,
                                const float* __restrict__ k, const float* Gs, float* Att, float* Qb, float* Xb) {
  constexpr int LdF = F + 1;
  const long long qrow0 = s * d.T + ch.t_lo, krow0 = s * d.P + ch.p0;
  Frag<kC, kC> a;
  a.zero();
  for (int kt = 0; kt < d.nK; ++kt) {
    if (kt > 0) __syncthreads();
    load_tile<kC, F, LdF>(Qb, q + qrow0 * d.K + kt * F, d.K, ch.R, d.K - kt * F);
    load_tile<kC, F, LdF>(Xb, k + krow0 * d.K + kt * F, d.K, ch.L, d.K - kt * F);
    __syncthreads();
    mma<F, false, true, LdF, LdF>(a, Qb, Xb);
  }
#pragma unroll
  for (int i = 0; i < a.kTM; ++i)
#pragma unroll
    for (int j = 0; j < a.kTN; ++j) {
      const int r = a.row(i), n = a.col(j);
      float x = 0.f;
      if (r < ch.R) {
        const int pr = ch.query_pos(r, d.n_h);
        if (n <= pr) x = d.gated ? a.a[i][j] * (expf(Gs[pr] - Gs[n]) * d.scale) : a.a[i][j] * d.scale;
      }
      Att[r * kLdC + n] = x;
    }
}

// Per (chunk, sequence): o rows of the chunk's queries.
template <int F>
__global__ void __launch_bounds__(kNT)
    fwd_output(Dims d, const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v_new,
               const float* __restrict__ states, const float* __restrict__ g_cum, float* __restrict__ o) {
  constexpr int LdF = F + 1;
  Carve sm{gdr_smem};
  float* Att = sm.take(kC * kLdC);
  float* Qb = sm.take(kC * LdF);
  float* Xb = sm.take(kC * LdF);  // K tile, then Vn tiles
  float* Sb = sm.take(F * LdF);   // S_c tile
  float* Gs = sm.take(kC);
  float* qs = sm.take(kC);        // scale e^{G_pi_r} (0 on padding rows)
  const int tid = tid_();
  const int c = static_cast<int>(blockIdx.x);
  const long long s = blockIdx.y;
  const Chunk ch(c, d);
  const long long row0 = s * d.P + ch.p0, qrow0 = s * d.T + ch.t_lo;
  if (tid < kC) Gs[tid] = tid < ch.L ? g_cum[row0 + tid] : 0.f;
  __syncthreads();
  if (tid < kC) qs[tid] = tid < ch.R ? d.scale * expf(Gs[ch.query_pos(tid, d.n_h)]) : 0.f;
  chunk_attention<F>(d, ch, s, q, k, Gs, Att, Qb, Xb);

  const float* Sc = states + (s * d.N + c) * static_cast<long long>(d.K) * d.V;
  for (int vt = 0; vt < d.nV; ++vt) {
    const int v0 = vt * F, vc = d.V - v0;
    Frag<kC, F> f;
    f.zero();
    for (int kt = 0; kt < d.nK; ++kt) {
      __syncthreads();
      if (d.nK > 1) load_tile<kC, F, LdF>(Qb, q + qrow0 * d.K + kt * F, d.K, ch.R, d.K - kt * F);
      load_tile<F, F, LdF>(Sb, Sc + static_cast<long long>(kt * F) * d.V + v0, d.V, d.K - kt * F, vc);
      __syncthreads();
      mma<F, false, false, LdF, LdF>(f, Qb, Sb);
    }
    f.scale_rows(qs);
    __syncthreads();
    load_tile<kC, F, LdF>(Xb, v_new + row0 * d.V + v0, d.V, ch.L, vc);
    __syncthreads();
    mma<kC, false, false, kLdC, LdF>(f, Att, Xb);
#pragma unroll
    for (int i = 0; i < f.kTM; ++i)
#pragma unroll
      for (int j = 0; j < f.kTN; ++j) {
        const int r = f.row(i), n = f.col(j);
        if (r < ch.R && n < vc) o[(qrow0 + r) * d.V + v0 + n] = f.a[i][j];
      }
  }
}

// ------------------------------------------------------------------------------------------------
// backward

// Per (chunk, sequence): dVn = Att^T dO (the intra-chunk part; bwd_scan adds the state part).
template <int F>
__global__ void __launch_bounds__(kNT)
    bwd_dvn_local(Dims d, const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ d_o,
                  const float* __restrict__ g_cum, float* __restrict__ dv_new) {
  constexpr int LdF = F + 1;
  Carve sm{gdr_smem};
  float* Att = sm.take(kC * kLdC);
  float* Qb = sm.take(kC * LdF);
  float* Xb = sm.take(kC * LdF);  // K tile, then dO tiles
  sm.take(F * LdF);               // (fwd_output's S tile: the two kernels share one layout)
  float* Gs = sm.take(kC);
  const int tid = tid_();
  const int c = static_cast<int>(blockIdx.x);
  const long long s = blockIdx.y;
  const Chunk ch(c, d);
  const long long row0 = s * d.P + ch.p0, qrow0 = s * d.T + ch.t_lo;
  if (tid < kC) Gs[tid] = tid < ch.L ? g_cum[row0 + tid] : 0.f;
  __syncthreads();
  chunk_attention<F>(d, ch, s, q, k, Gs, Att, Qb, Xb);
  for (int vt = 0; vt < d.nV; ++vt) {
    const int v0 = vt * F, vc = d.V - v0;
    __syncthreads();
    load_tile<kC, F, LdF>(Xb, d_o + qrow0 * d.V + v0, d.V, ch.R, vc);
    __syncthreads();
    Frag<kC, F> f;
    f.zero();
    mma<kC, true, false, kLdC, LdF>(f, Att, Xb);
#pragma unroll
    for (int i = 0; i < f.kTM; ++i)
#pragma unroll
      for (int j = 0; j < f.kTN; ++j) {
        const int m = f.row(i), n = f.col(j);
        if (m < ch.L && n < vc) dv_new[(row0 + m) * d.V + v0 + n] = f.a[i][j];
      }
  }
}

// Per (V tile of BV columns, sequence): the chunks in reverse with dS [K, BV] in shared memory.
// Saves dH_c (= dS on entering chunk c) in dstates, completes dVn in place, writes dh0. What a
// chunk reads from global memory (K, and with one K tile Q and W; dVn, dO, G) is loaded while the
// following chunk computes.
template <int F, int BV>
__global__ void __launch_bounds__(kNT)
    bwd_scan(Dims d, const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ w,
             const float* __restrict__ g_cum, const float* __restrict__ d_o, const float* __restrict__ dht,
             float* __restrict__ dv_new, float* __restrict__ dstates, float* __restrict__ dh0) {
  constexpr int LdF = F + 1, LdB = BV + 1;
  using Acc = Frag<kC, BV>;
  const int KP = d.nK * F;
  Carve sm{gdr_smem};
  float* dSt = sm.take(KP * LdB);
  float* Kb = sm.take(kC * LdF);
  float* Qb = sm.take(kC * LdF);  // diag(scale e^{G_pi}) Q
  float* Wb = sm.take(kC * LdF);
  float* dVt = sm.take(kC * LdB);
  float* dOt = sm.take(kC * LdB);
  float* Ds = sm.take(kC);
  float* qs = sm.take(kC);
  float* misc = sm.take(4);  // [0] e^{G_L}
  const int tid = tid_();
  const long long s = blockIdx.y;
  const int v0 = static_cast<int>(blockIdx.x) * BV, vc = imin(BV, d.V - v0);
  const long long KV = static_cast<long long>(d.K) * d.V;

  // the next chunk's inputs, in registers
  TileRegs<kC, F> k_next, q_next, w_next;  // first K tile; Q and W only with one K tile
  TileRegs<kC, BV> dv_next, do_next;       // dVn (its local part) and dO, this V tile
  float g_next = 0.f, gl_next = 0.f, gq_next = 0.f;  // G_tid, G_L, G at query row tid's position
  auto prefetch = [&](int c) {
    const Chunk ch(c, d);
    const long long row0 = s * d.P + ch.p0, qrow0 = s * d.T + ch.t_lo;
    k_next.load(k + row0 * d.K, d.K, ch.L, d.K);
    if (d.nK == 1) {
      q_next.load(q + qrow0 * d.K, d.K, ch.R, d.K);
      w_next.load(w + row0 * d.K, d.K, ch.L, d.K);
    }
    dv_next.load(dv_new + row0 * d.V + v0, d.V, ch.L, vc);
    do_next.load(d_o + qrow0 * d.V + v0, d.V, ch.R, vc);
    if (tid < kC) {
      gl_next = g_cum[row0 + ch.L - 1];
      g_next = tid < ch.L ? g_cum[row0 + tid] : 0.f;
      gq_next = tid < ch.R ? g_cum[row0 + ch.query_pos(tid, d.n_h)] : 0.f;
    }
  };

  for (int e = tid; e < KP * BV; e += kNT) {
    const int r = e / BV, n = e % BV;
    dSt[r * LdB + n] = (dht && r < d.K && n < vc) ? dht[s * KV + static_cast<long long>(r) * d.V + v0 + n] : 0.f;
  }
  prefetch(d.N - 1);
  for (int c = d.N - 1; c >= 0; --c) {
    const Chunk ch(c, d);
    const int L = ch.L;
    const long long row0 = s * d.P + ch.p0, qrow0 = s * d.T + ch.t_lo;
    __syncthreads();  // dSt is current; the previous chunk's reads are done
    if (tid < kC) {
      Ds[tid] = tid < L ? expf(gl_next - g_next) : 0.f;
      qs[tid] = tid < ch.R ? d.scale * expf(gq_next) : 0.f;
      if (tid == 0) misc[0] = expf(gl_next);
    }
    float* dH = dstates + (s * d.N + c) * KV;
    for (int e = tid; e < d.K * BV; e += kNT) {
      const int r = e / BV, n = e % BV;
      if (n < vc) dH[static_cast<long long>(r) * d.V + v0 + n] = dSt[r * LdB + n];
    }
    k_next.template store<LdF>(Kb);
    if (d.nK == 1) w_next.template store<LdF>(Wb);
    dv_next.template store<LdB>(dVt);
    do_next.template store<LdB>(dOt);
    __syncthreads();  // qs
    if (d.nK == 1) q_next.template store<LdF>(Qb, qs);  // first read after the barrier below the dVn update
    if (c > 0) prefetch(c - 1);

    // dVn = Att^T dO + D K dH_c
    Acc acc;
    acc.zero();
    for (int kt = 0; kt < d.nK; ++kt) {
      if (kt > 0) {
        __syncthreads();
        load_tile<kC, F, LdF>(Kb, k + row0 * d.K + kt * F, d.K, L, d.K - kt * F);
        __syncthreads();
      }
      mma<F, false, false, LdF, LdB>(acc, Kb, dSt + kt * F * LdB);
    }
#pragma unroll
    for (int i = 0; i < Acc::kTM; ++i)
#pragma unroll
      for (int j = 0; j < Acc::kTN; ++j) {
        const int m = Acc::row(i), n = Acc::col(j);
        float x = 0.f;
        if (m < L && n < vc) {
          x = dVt[m * LdB + n] + Ds[m] * acc.a[i][j];
          dv_new[(row0 + m) * d.V + v0 + n] = x;
        }
        dVt[m * LdB + n] = x;
      }
    __syncthreads();  // dVt and Qb complete; every read of dSt for dVn is done

    // dS_c = e^{G_L} dH_c + (diag(scale e^{G_pi}) Q)^T dO - W^T dVn
    const float eGL = misc[0];
    for (int kt = 0; kt < d.nK; ++kt) {
      if (d.nK > 1) {
        load_tile<kC, F, LdF>(Qb, q + qrow0 * d.K + kt * F, d.K, ch.R, d.K - kt * F, qs);
        load_tile<kC, F, LdF>(Wb, w + row0 * d.K + kt * F, d.K, L, d.K - kt * F);
        __syncthreads();
      }
      Frag<F, BV> up;
      up.zero();
      mma<kC, true, false, LdF, LdB>(up, Qb, dOt);
      mma<kC, true, false, LdF, LdB, true>(up, Wb, dVt);
      float* dSk = dSt + kt * F * LdB;
#pragma unroll
      for (int i = 0; i < up.kTM; ++i)
#pragma unroll
        for (int j = 0; j < up.kTN; ++j) {
          float& x = dSk[up.row(i) * LdB + up.col(j)];
          x = eGL * x + up.a[i][j];
        }
      __syncthreads();  // Qb, Wb free for the next tile
    }
  }
  if (dh0) {
    for (int e = tid; e < d.K * BV; e += kNT) {
      const int r = e / BV, n = e % BV;
      if (n < vc) dh0[s * KV + static_cast<long long>(r) * d.V + v0 + n] = dSt[r * LdB + n];
    }
  }
}

// Per (K tile of F columns, chunk, sequence): dq and the state/output part of dk for these
// columns, dW = -dVn S_c^T, and (gated) this tile's share of dL/dG into dg_part.
template <int F>
__global__ void __launch_bounds__(kNT)
    bwd_dqk(Dims d, const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v_new,
            const float* __restrict__ dv_new, const float* __restrict__ states, const float* __restrict__ dstates,
            const float* __restrict__ g_cum, const float* __restrict__ d_o, float* __restrict__ dq,
            float* __restrict__ dk, float* __restrict__ dw, float* __restrict__ dg_part) {
  constexpr int LdF = F + 1;
  Carve sm{gdr_smem};
  float* dsS = sm.take(kC * kLdC);  // ds
  float* B0 = sm.take(kC * LdF);    // dO tile, then the Q tile
  float* B1 = sm.take(kC * LdF);    // Vn tile, then the K tile
  float* B2 = sm.take(kC * LdF);    // dVn tile
  float* Sb = sm.take(F * LdF);     // S_c [K tile, V tile]
  float* dHb = sm.take(F * LdF);    // dH_c [K tile, V tile]
  float* Gs = sm.take(kC);
  float* qs = sm.take(kC);
  float* Ds = sm.take(kC);
  float* rowA = sm.take(kC);  // dK_st,i . k_i
  float* rowB = sm.take(kC);  // dK_i . k_i
  float* rowC = sm.take(kC);  // dQ_r . q_r
  float* red = sm.take(32);
  float* misc = sm.take(4);   // [0] e^{G_L}, [1] sum_i dK_st,i . k_i
  const int tid = tid_();
  const int kt = static_cast<int>(blockIdx.x), c = static_cast<int>(blockIdx.y);
  const long long s = blockIdx.z;
  const int k0 = kt * F, kc = d.K - k0;
  const Chunk ch(c, d);
  const int L = ch.L;
  const long long row0 = s * d.P + ch.p0, qrow0 = s * d.T + ch.t_lo;
  const long long KV = static_cast<long long>(d.K) * d.V;

  if (tid < kC) Gs[tid] = tid < L ? g_cum[row0 + tid] : 0.f;
  __syncthreads();
  if (tid < kC) {
    const float gl = Gs[L - 1];
    Ds[tid] = tid < L ? expf(gl - Gs[tid]) : 0.f;
    qs[tid] = tid < ch.R ? d.scale * expf(Gs[ch.query_pos(tid, d.n_h)]) : 0.f;
    if (tid == 0) misc[0] = expf(gl);
  }

  Frag<kC, kC> dsf;  // dO Vn^T
  Frag<kC, F> dks;   // Vn dH^T
  Frag<kC, F> dqf;   // dO S_c^T
  Frag<kC, F> dwf;   // dVn S_c^T
  dsf.zero(), dks.zero(), dqf.zero(), dwf.zero();
  float sdh = 0.f;  // this thread's share of <S_c, dH_c> over the K tile
  const float* Sc = states + (s * d.N + c) * KV + static_cast<long long>(k0) * d.V;
  const float* dHc = dstates + (s * d.N + c) * KV + static_cast<long long>(k0) * d.V;
  for (int vt = 0; vt < d.nV; ++vt) {
    const int v0 = vt * F, vc = d.V - v0;
    __syncthreads();
    load_tile<kC, F, LdF>(B0, d_o + qrow0 * d.V + v0, d.V, ch.R, vc);
    load_tile<kC, F, LdF>(B1, v_new + row0 * d.V + v0, d.V, L, vc);
    load_tile<kC, F, LdF>(B2, dv_new + row0 * d.V + v0, d.V, L, vc);
    load_tile<F, F, LdF>(Sb, Sc + v0, d.V, kc, vc);
    load_tile<F, F, LdF>(dHb, dHc + v0, d.V, kc, vc);
    __syncthreads();
    mma<F, false, true, LdF, LdF>(dsf, B0, B1);
    mma<F, false, true, LdF, LdF>(dks, B1, dHb);
    mma<F, false, true, LdF, LdF>(dqf, B0, Sb);
    mma<F, false, true, LdF, LdF>(dwf, B2, Sb);
    for (int e = tid; e < F * F; e += kNT) {
      const int r = e / F, cc = e % F;
      sdh = fmaf(Sb[r * LdF + cc], dHb[r * LdF + cc], sdh);
    }
  }
  // ds = scale tril(dO Vn^T) o Gamma (the mask of the forward's Att)
#pragma unroll
  for (int i = 0; i < dsf.kTM; ++i)
#pragma unroll
    for (int j = 0; j < dsf.kTN; ++j) {
      const int r = dsf.row(i), n = dsf.col(j);
      float x = 0.f;
      if (r < ch.R) {
        const int pr = ch.query_pos(r, d.n_h);
        if (n <= pr) x = d.gated ? dsf.a[i][j] * (expf(Gs[pr] - Gs[n]) * d.scale) : dsf.a[i][j] * d.scale;
      }
      dsS[r * kLdC + n] = x;
    }
  __syncthreads();  // B0, B1 free
  load_tile<kC, F, LdF>(B0, q + qrow0 * d.K + k0, d.K, ch.R, kc);
  load_tile<kC, F, LdF>(B1, k + row0 * d.K + k0, d.K, L, kc);
  const float sdh_total = block_sum(sdh, red);
  __syncthreads();

  // dQ = diag(scale e^{G_pi}) dO S_c^T + ds K
  dqf.scale_rows(qs);
  mma<kC, false, false, kLdC, LdF>(dqf, dsS, B1);
  // dK = D Vn dH^T + ds^T Q
  dks.scale_rows(Ds);
  row_dot<LdF>(dks, B1, rowA, false);
  mma<kC, true, false, kLdC, LdF>(dks, dsS, B0);
  row_dot<LdF>(dks, B1, rowB, false);
  row_dot<LdF>(dqf, B0, rowC, false);
#pragma unroll
  for (int i = 0; i < dqf.kTM; ++i)
#pragma unroll
    for (int j = 0; j < dqf.kTN; ++j) {
      const int m = dqf.row(i), n = dqf.col(j);
      if (n < kc) {
        if (m < ch.R) dq[(qrow0 + m) * d.K + k0 + n] = dqf.a[i][j];
        if (m < L) {
          dk[(row0 + m) * d.K + k0 + n] = dks.a[i][j];
          dw[(row0 + m) * d.K + k0 + n] = -dwf.a[i][j];
        }
      }
    }
  if (d.gated) {
    // dG_i = -dK_i . k_i, + dQ_r . q_r at i = pi_r, + e^{G_L} <S_c, dH_c> + sum_i dK_st,i . k_i at i = L-1
    __syncthreads();
    if (tid == 0) {
      float t = 0.f;
      for (int m = 0; m < L; ++m) t += rowA[m];
      misc[1] = t;
    }
    __syncthreads();
    if (tid < kC) {
      float x = 0.f;
      if (tid < L) {
        x = -rowB[tid];
        const int next = ch.p0 + tid + 1;
        if (next % d.n_h == 0) {
          const int r = next / d.n_h - 1 - ch.t_lo;
          if (r >= 0 && r < ch.R) x += rowC[r];
        }
        if (tid == L - 1) x += misc[0] * sdh_total + misc[1];
      }
      dg_part[((s * d.N + c) * d.nK + kt) * kC + tid] = x;
    }
  }
}

// Per (chunk, sequence): back through W = T^ diag(beta e^G) K, U = T^ diag(beta) V and
// T^ = (I+A)^-1. Adds to dk (written by bwd_dqk), writes dv, dbeta and dg.
template <int F>
__global__ void __launch_bounds__(kNT)
    bwd_wy(Dims d, const float* __restrict__ k, const float* __restrict__ v, const float* __restrict__ beta,
           const float* __restrict__ t_hat, const float* __restrict__ dw, const float* __restrict__ dv_new,
           const float* __restrict__ g_cum, const float* __restrict__ dg_part, float* __restrict__ dk,
           float* __restrict__ dv, float* __restrict__ dbeta, float* __restrict__ dg) {
  constexpr int LdF = F + 1;
  Carve sm{gdr_smem};
  float* Ti = sm.take(kC * kLdC);
  float* dT = sm.take(kC * kLdC);  // dT^ (strictly lower), then dP
  float* Tm = sm.take(kC * kLdC);  // T^T dT^
  float* Xa = sm.take(kC * LdF);   // dW or dVn tile
  float* Xb = sm.take(kC * LdF);   // K or V tile
  float* Xc = sm.take(kC * LdF);   // the same, rows scaled
  float* bs = sm.take(kC);
  float* eG = sm.take(kC);
  float* Gs = sm.take(kC);
  float* cs = sm.take(kC);    // beta e^G
  float* ywk = sm.take(kC);   // rowsum(Y_W o K)
  float* yuv = sm.take(kC);   // rowsum(Y_U o V)
  float* dpkk = sm.take(kC);  // rowsum((dP K) o K)
  float* dptk = sm.take(kC);  // rowsum((dP^T diag(beta) K) o K)
  float* dGs = sm.take(kC);   // dL/dG
  const int tid = tid_();
  const int c = static_cast<int>(blockIdx.x);
  const long long s = blockIdx.y;
  const Chunk ch(c, d);
  const int L = ch.L;
  const long long row0 = s * d.P + ch.p0;

  if (tid < kC) {
    const float b = tid < L ? beta[row0 + tid] : 0.f;
    const float G = tid < L ? g_cum[row0 + tid] : 0.f;
    const float e = expf(G);
    bs[tid] = b, Gs[tid] = G, eG[tid] = e;
    cs[tid] = d.gated ? b * e : b;
  }
  const float* th = t_hat + (s * d.N + c) * static_cast<long long>(kC * kC);
  for (int e = tid; e < kC * kC; e += kNT) Ti[(e / kC) * kLdC + e % kC] = th[e];
  __syncthreads();

  Frag<kC, kC> dtf;  // dT^ = dW (diag(beta e^G) K)^T + dVn (diag(beta) V)^T
  dtf.zero();
  // Y_W = T^T dW: dk += diag(beta e^G) Y_W
  for (int kt = 0; kt < d.nK; ++kt) {
    const int k0 = kt * F, kc = d.K - k0;
    if (kt > 0) __syncthreads();
    load_tile<kC, F, LdF>(Xa, dw + row0 * d.K + k0, d.K, L, kc);
    load_tile<kC, F, LdF>(Xb, k + row0 * d.K + k0, d.K, L, kc);
    load_tile<kC, F, LdF>(Xc, k + row0 * d.K + k0, d.K, L, kc, cs);
    __syncthreads();
    Frag<kC, F> yw;
    yw.zero();
    mma<kC, true, false, kLdC, LdF>(yw, Ti, Xa);
    row_dot<LdF>(yw, Xb, ywk, kt > 0);
#pragma unroll
    for (int i = 0; i < yw.kTM; ++i)
#pragma unroll
      for (int j = 0; j < yw.kTN; ++j) {
        const int m = yw.row(i), n = yw.col(j);
        if (m < L && n < kc) {
          const long long idx = (row0 + m) * d.K + k0 + n;
          dk[idx] = dk[idx] + cs[m] * yw.a[i][j];
        }
      }
    mma<F, false, true, LdF, LdF>(dtf, Xa, Xc);
  }
  // Y_U = T^T dVn: dv = diag(beta) Y_U
  for (int vt = 0; vt < d.nV; ++vt) {
    const int v0 = vt * F, vc = d.V - v0;
    __syncthreads();
    load_tile<kC, F, LdF>(Xa, dv_new + row0 * d.V + v0, d.V, L, vc);
    load_tile<kC, F, LdF>(Xb, v + row0 * d.V + v0, d.V, L, vc);
    load_tile<kC, F, LdF>(Xc, v + row0 * d.V + v0, d.V, L, vc, bs);
    __syncthreads();
    Frag<kC, F> yu;
    yu.zero();
    mma<kC, true, false, kLdC, LdF>(yu, Ti, Xa);
    row_dot<LdF>(yu, Xb, yuv, vt > 0);
#pragma unroll
    for (int i = 0; i < yu.kTM; ++i)
#pragma unroll
      for (int j = 0; j < yu.kTN; ++j) {
        const int m = yu.row(i), n = yu.col(j);
        if (m < L && n < vc) dv[(row0 + m) * d.V + v0 + n] = bs[m] * yu.a[i][j];
      }
    mma<F, false, true, LdF, LdF>(dtf, Xa, Xc);
  }
  // dA = -strict_lower(T^T strict_lower(dT^) T^T), dP = dA o Gamma
#pragma unroll
  for (int i = 0; i < dtf.kTM; ++i)
#pragma unroll
    for (int j = 0; j < dtf.kTN; ++j) {
      const int m = dtf.row(i), n = dtf.col(j);
      dT[m * kLdC + n] = n < m ? dtf.a[i][j] : 0.f;
    }
  __syncthreads();
  {
    Frag<kC, kC> t1;
    t1.zero();
    mma<kC, true, false, kLdC, kLdC>(t1, Ti, dT);
#pragma unroll
    for (int i = 0; i < t1.kTM; ++i)
#pragma unroll
      for (int j = 0; j < t1.kTN; ++j) Tm[t1.row(i) * kLdC + t1.col(j)] = t1.a[i][j];
  }
  __syncthreads();  // Tm complete; dT no longer read
  {
    Frag<kC, kC> da;
    da.zero();
    mma<kC, false, true, kLdC, kLdC>(da, Tm, Ti);
#pragma unroll
    for (int i = 0; i < da.kTM; ++i)
#pragma unroll
      for (int j = 0; j < da.kTN; ++j) {
        const int m = da.row(i), n = da.col(j);
        float x = 0.f;
        if (m < L && n < m) x = d.gated ? -da.a[i][j] * expf(Gs[m] - Gs[n]) : -da.a[i][j];
        dT[m * kLdC + n] = x;
      }
  }
  // P_ij = beta_i k_i . k_j:  dk += diag(beta) dP K + dP^T diag(beta) K
  for (int kt = 0; kt < d.nK; ++kt) {
    const int k0 = kt * F, kc = d.K - k0;
    __syncthreads();
    load_tile<kC, F, LdF>(Xb, k + row0 * d.K + k0, d.K, L, kc);
    load_tile<kC, F, LdF>(Xc, k + row0 * d.K + k0, d.K, L, kc, bs);
    __syncthreads();
    Frag<kC, F> pk, ptk;
    pk.zero(), ptk.zero();
    mma<kC, false, false, kLdC, LdF>(pk, dT, Xb);
    mma<kC, true, false, kLdC, LdF>(ptk, dT, Xc);
    row_dot<LdF>(pk, Xb, dpkk, kt > 0);
    row_dot<LdF>(ptk, Xb, dptk, kt > 0);
#pragma unroll
    for (int i = 0; i < pk.kTM; ++i)
#pragma unroll
      for (int j = 0; j < pk.kTN; ++j) {
        const int m = pk.row(i), n = pk.col(j);
        if (m < L && n < kc) {
          const long long idx = (row0 + m) * d.K + k0 + n;
          const float x = dk[idx] + bs[m] * pk.a[i][j];
          dk[idx] = x + ptk.a[i][j];
        }
      }
  }
  __syncthreads();
  if (tid < L) {
    dbeta[row0 + tid] = yuv[tid] + eG[tid] * ywk[tid] + dpkk[tid];
    if (d.gated) {
      float x = 0.f;
      const float* part = dg_part + (s * d.N + c) * d.nK * kC + tid;
      for (int kt = 0; kt < d.nK; ++kt) x += part[kt * kC];
      x += bs[tid] * eG[tid] * ywk[tid];
      x += bs[tid] * dpkk[tid] - dptk[tid];
      dGs[tid] = x;
    }
  }
  if (d.gated) {
    // dg_t = sum of dG over the chunk's rows from the token's sub-step-0 position on
    __syncthreads();
    if (tid < L && (ch.p0 + tid) % d.n_h == 0) {
      float acc = 0.f;
      for (int m = L - 1; m >= tid; --m) acc += dGs[m];
      dg[s * d.T + (ch.p0 + tid) / d.n_h] = acc;
    }
  }
}

// ------------------------------------------------------------------------------------------------
// host side

void check_inputs(const GpuDeltaRuleInputs& in, const char* who) {
  if (in.S < 0 || in.T < 0 || in.K < 1 || in.K > kDeltaRuleMaxDim || in.V < 1 || in.V > kDeltaRuleMaxDim ||
      in.n_h < 1)
    throw std::invalid_argument(std::string(who) + ": need S >= 0, T >= 0, 1 <= K, V <= 256, n_h >= 1");
  if (in.S > 0 && in.T > 0 && (!in.q || !in.k || !in.v || !in.beta))
    throw std::invalid_argument(std::string(who) + ": q, k, v and beta are required");
  const long long P = static_cast<long long>(in.T) * in.n_h;
  if (in.S > 65535 || (P + kC - 1) / kC > 65535 || P * std::max(in.K, in.V) > (1ll << 40))
    throw std::invalid_argument(std::string(who) + ": too many sequences or positions for the launch grid");
}

int feature_tile(int K, int V) { return std::max(K, V) <= 32 ? 32 : 64; }

Dims make_dims(const GpuDeltaRuleInputs& in, int F) {
  Dims d{};
  d.T = in.T, d.K = in.K, d.V = in.V, d.n_h = in.n_h;
  d.P = in.T * in.n_h;
  d.N = (d.P + kC - 1) / kC;
  d.nK = (in.K + F - 1) / F, d.nV = (in.V + F - 1) / F;
  d.scale = in.effective_scale();
  d.gated = in.g != nullptr;
  return d;
}

// raise a kernel's dynamic shared-memory limit when a launch needs more than the default 48 KiB
// (once per kernel, device and size, so a captured step makes no such call)
void allow_smem(const void* kernel, int floats) {
  const size_t bytes = static_cast<size_t>(floats) * sizeof(float);
  if (bytes <= 48 * 1024) return;
  static std::mutex mutex;
  static std::map<std::pair<const void*, int>, size_t> granted;
  int device = 0;
  DB_CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(mutex);
  size_t& have = granted[{kernel, device}];
  if (bytes > have) {
    DB_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
    have = bytes;
  }
}

// V tile of the two sequential kernels. Each block holds one SM (its registers), so a launch takes
// ceil(blocks / SMs) waves; a chunk step costs about 8 + BV/16 units (fixed latency and barriers,
// then shared-memory reads, which grow with BV). The cheapest of BV = 16, 32, 64 wins; ties go to
// the narrower tile.
int scan_tile(int S, int V) {
  int device = 0, sms = 0;
  DB_CUDA_CHECK(cudaGetDevice(&device));
  DB_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  sms = std::max(sms, 1);
  const int v16 = (V + 15) / 16 * 16;
  int best = 16;
  long long best_cost = -1;
  for (int bv : {16, 32, 64}) {
    if (bv > v16) break;
    const long long blocks = static_cast<long long>(S) * ((V + bv - 1) / bv);
    const long long cost = (blocks + sms - 1) / sms * (8 + bv / 16);
    if (best_cost < 0 || cost < best_cost) best = bv, best_cost = cost;
  }
  return best;
}

template <int F, int BV>
void launch_fwd_scan(cudaStream_t stream, const Dims& d, int S, const GpuDeltaRuleInputs& in, GpuDeltaRuleWorkspace& ws,
                     float* ht) {
  const int floats = smem_scan_fwd(F, BV, d.nK * F);
  allow_smem(reinterpret_cast<const void*>(&fwd_scan<F, BV>), floats);
  fwd_scan<F, BV><<<dim3((d.V + BV - 1) / BV, S), kNT, floats * sizeof(float), stream>>>(
      d, in.k, ws.w.data(), ws.v_new.data(), ws.g_cum.data(), in.h0, ws.states.data(), ht);
  DB_CUDA_CHECK_LAUNCH();
}

template <int F, int BV>
void launch_bwd_scan(cudaStream_t stream, const Dims& d, int S, const GpuDeltaRuleInputs& in, GpuDeltaRuleWorkspace& ws,
                     const float* d_o, const float* dht, float* dh0) {
  const int floats = smem_scan_bwd(F, BV, d.nK * F);
  allow_smem(reinterpret_cast<const void*>(&bwd_scan<F, BV>), floats);
  bwd_scan<F, BV><<<dim3((d.V + BV - 1) / BV, S), kNT, floats * sizeof(float), stream>>>(
      d, in.q, in.k, ws.w.data(), ws.g_cum.data(), d_o, dht, ws.dv_new.data(), ws.dstates.data(), dh0);
  DB_CUDA_CHECK_LAUNCH();
}

template <int F>
void forward_impl(cudaStream_t stream, const GpuDeltaRuleInputs& in, float* o, float* ht, GpuDeltaRuleWorkspace& ws) {
  const Dims d = make_dims(in, F);
  const int S = in.S;
  const size_t P = static_cast<size_t>(d.P), N = static_cast<size_t>(d.N);
  ws.g_cum.resize(S * P);
  ws.t_hat.resize(S * N * kC * kC);
  ws.w.resize(S * P * in.K);
  ws.v_new.resize(S * P * in.V);
  ws.states.resize(S * N * in.K * in.V);

  {
    const int floats = smem_wy_forward(F);
    allow_smem(reinterpret_cast<const void*>(&wy_forward<F>), floats);
    wy_forward<F><<<dim3(d.N, S), kNT, floats * sizeof(float), stream>>>(
        d, in.k, in.v, in.beta, in.g, ws.g_cum.data(), ws.t_hat.data(), ws.w.data(), ws.v_new.data());
    DB_CUDA_CHECK_LAUNCH();
  }
  switch (scan_tile(S, in.V)) {
    case 64: launch_fwd_scan<F, 64>(stream, d, S, in, ws, ht); break;
    case 32: launch_fwd_scan<F, 32>(stream, d, S, in, ws, ht); break;
    default: launch_fwd_scan<F, 16>(stream, d, S, in, ws, ht); break;
  }
  {
    const int floats = smem_output(F);
    allow_smem(reinterpret_cast<const void*>(&fwd_output<F>), floats);
    fwd_output<F><<<dim3(d.N, S), kNT, floats * sizeof(float), stream>>>(d, in.q, in.k, ws.v_new.data(),
                                                                         ws.states.data(), ws.g_cum.data(), o);
    DB_CUDA_CHECK_LAUNCH();
  }
}

template <int F>
void backward_impl(cudaStream_t stream, const GpuDeltaRuleInputs& in, const float* d_o, const float* dht,
                   const GpuDeltaRuleGrads& grads, GpuDeltaRuleWorkspace& ws) {
  const Dims d = make_dims(in, F);
  const int S = in.S;
  const size_t P = static_cast<size_t>(d.P), N = static_cast<size_t>(d.N);
  ws.dv_new.resize(S * P * in.V);
  ws.dstates.resize(S * N * in.K * in.V);
  ws.dw.resize(S * P * in.K);
  if (d.gated) ws.dg_part.resize(S * N * d.nK * kC);

  {
    const int floats = smem_output(F);
    allow_smem(reinterpret_cast<const void*>(&bwd_dvn_local<F>), floats);
    bwd_dvn_local<F><<<dim3(d.N, S), kNT, floats * sizeof(float), stream>>>(d, in.q, in.k, d_o, ws.g_cum.data(),
                                                                            ws.dv_new.data());
    DB_CUDA_CHECK_LAUNCH();
  }
  switch (scan_tile(S, in.V)) {
    case 64: launch_bwd_scan<F, 64>(stream, d, S, in, ws, d_o, dht, grads.dh0); break;
    case 32: launch_bwd_scan<F, 32>(stream, d, S, in, ws, d_o, dht, grads.dh0); break;
    default: launch_bwd_scan<F, 16>(stream, d, S, in, ws, d_o, dht, grads.dh0); break;
  }
  {
    const int floats = smem_dqk(F);
    allow_smem(reinterpret_cast<const void*>(&bwd_dqk<F>), floats);
    bwd_dqk<F><<<dim3(d.nK, d.N, S), kNT, floats * sizeof(float), stream>>>(
        d, in.q, in.k, ws.v_new.data(), ws.dv_new.data(), ws.states.data(), ws.dstates.data(), ws.g_cum.data(), d_o,
        grads.dq, grads.dk, ws.dw.data(), d.gated ? ws.dg_part.data() : nullptr);
    DB_CUDA_CHECK_LAUNCH();
  }
  {
    const int floats = smem_wy_backward(F);
    allow_smem(reinterpret_cast<const void*>(&bwd_wy<F>), floats);
    bwd_wy<F><<<dim3(d.N, S), kNT, floats * sizeof(float), stream>>>(
        d, in.k, in.v, in.beta, ws.t_hat.data(), ws.dw.data(), ws.dv_new.data(), ws.g_cum.data(),
        d.gated ? ws.dg_part.data() : nullptr, grads.dk, grads.dv, grads.dbeta, grads.dg);
    DB_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace

float GpuDeltaRuleInputs::effective_scale() const {
  return scale != 0.f ? scale : 1.f / std::sqrt(static_cast<float>(K));
}

size_t GpuDeltaRuleWorkspace::bytes() const {
  return g_cum.bytes() + t_hat.bytes() + w.bytes() + v_new.bytes() + states.bytes() + dv_new.bytes() +
         dstates.bytes() + dw.bytes() + dg_part.bytes();
}

void gated_delta_rule_forward(cudaStream_t stream, const GpuDeltaRuleInputs& in, float* o, float* ht,
                              GpuDeltaRuleWorkspace& ws) {
  check_inputs(in, "gated_delta_rule_forward");
  if (in.S > 0 && in.T > 0 && !o) throw std::invalid_argument("gated_delta_rule_forward: o is required");
  ws.S = in.S, ws.T = in.T, ws.K = in.K, ws.V = in.V, ws.n_h = in.n_h;
  ws.gated = in.g != nullptr;
  ws.forward_done = true;
  if (in.S == 0) return;
  const size_t KV = static_cast<size_t>(in.S) * in.K * in.V;
  if (in.T == 0) {  // no positions: the final state is h0
    if (ht && in.h0) DB_CUDA_CHECK(cudaMemcpyAsync(ht, in.h0, KV * sizeof(float), cudaMemcpyDeviceToDevice, stream));
    else if (ht) DB_CUDA_CHECK(cudaMemsetAsync(ht, 0, KV * sizeof(float), stream));
    return;
  }
  if (feature_tile(in.K, in.V) == 32) forward_impl<32>(stream, in, o, ht, ws);
  else forward_impl<64>(stream, in, o, ht, ws);
}

void gated_delta_rule_backward(cudaStream_t stream, const GpuDeltaRuleInputs& in, const float* d_o, const float* dht,
                               const GpuDeltaRuleGrads& grads, GpuDeltaRuleWorkspace& ws) {
  check_inputs(in, "gated_delta_rule_backward");
  if (!ws.forward_done || ws.S != in.S || ws.T != in.T || ws.K != in.K || ws.V != in.V || ws.n_h != in.n_h ||
      ws.gated != (in.g != nullptr))
    throw std::logic_error("gated_delta_rule_backward: the workspace does not hold the forward of these inputs");
  if (in.S == 0) return;
  const size_t KV = static_cast<size_t>(in.S) * in.K * in.V;
  if (in.T == 0) {
    if (grads.dh0 && dht)
      DB_CUDA_CHECK(cudaMemcpyAsync(grads.dh0, dht, KV * sizeof(float), cudaMemcpyDeviceToDevice, stream));
    else if (grads.dh0) DB_CUDA_CHECK(cudaMemsetAsync(grads.dh0, 0, KV * sizeof(float), stream));
    return;
  }
  if (!d_o || !grads.dq || !grads.dk || !grads.dv || !grads.dbeta || (in.g && !grads.dg))
    throw std::invalid_argument("gated_delta_rule_backward: d_o, dq, dk, dv, dbeta (and dg with a gate) are required");
  if (feature_tile(in.K, in.V) == 32) backward_impl<32>(stream, in, d_o, dht, grads, ws);
  else backward_impl<64>(stream, in, d_o, dht, grads, ws);
}

void gated_delta_rule_forward(const Context& ctx, const GpuDeltaRuleInputs& in, float* o, float* ht,
                              GpuDeltaRuleWorkspace& ws) {
  gated_delta_rule_forward(ctx.stream(), in, o, ht, ws);
}

void gated_delta_rule_backward(const Context& ctx, const GpuDeltaRuleInputs& in, const float* d_o, const float* dht,
                               const GpuDeltaRuleGrads& grads, GpuDeltaRuleWorkspace& ws) {
  gated_delta_rule_backward(ctx.stream(), in, d_o, dht, grads, ws);
}

}  // namespace db::cuda
