// gemm.cpp: fixed-block, thread-count-independent products (see gemm.h).
#include "models/numerics/gemm.h"

#include <algorithm>

#include "models/numerics/parallel.h"

namespace db {
namespace {

constexpr Index kRowBlock = 32;

// Eigen sizes its cache blocking (how the summed dimension is split) from the CPU's cache sizes,
// read at run time; a CPU with another L1 or L2 would then add in another order. Fixed sizes make
// every product's bits a function of the code alone. The values are a common L1d/L2/L3 of current
// x86-64 cores, so the blocking stays near the best on most machines.
const bool kEigenCacheSizesFixed = [] {
  Eigen::setCpuCacheSizes(32 * 1024, 1024 * 1024, 8 * 1024 * 1024);
  return true;
}();
// at most 32 rows at compile time: Eigen's parallelize_gemm is disabled for such destinations
using RowBlockMap =
    Eigen::Map<Eigen::Matrix<real, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor, kRowBlock, Eigen::Dynamic>>;

template <class Lhs, class Rhs>
void assign_block(real* C, Index rows, Index N, const Lhs& lhs, const Rhs& rhs, bool accumulate) {
  RowBlockMap c(C, rows, N);
  if (accumulate)
    c.noalias() += lhs * rhs;
  else
    c.noalias() = lhs * rhs;
}

}  // namespace

void gemm_nt(const real* A, const real* B, real* C, Index M, Index N, Index K, bool accumulate) {
  if (M == 0 || N == 0) return;
  ConstMatMap b(B, N, K);  // [N,K]
  parallel_blocks(M, kRowBlock, M * N * K, [&](Index m0, Index m1) {
    ConstMatMap a(A + m0 * K, m1 - m0, K);  // [mb,K]
    assign_block(C + m0 * N, m1 - m0, N, a, b.transpose(), accumulate);
  });
}

void gemm_nn(const real* A, const real* B, real* C, Index M, Index N, Index K, bool accumulate) {
  if (M == 0 || N == 0) return;
  ConstMatMap b(B, K, N);  // [K,N]
  parallel_blocks(M, kRowBlock, M * N * K, [&](Index m0, Index m1) {
    ConstMatMap a(A + m0 * K, m1 - m0, K);  // [mb,K]
    assign_block(C + m0 * N, m1 - m0, N, a, b, accumulate);
  });
}

void gemm_tn(const real* A, const real* B, real* C, Index M, Index N, Index K, bool accumulate) {
  if (M == 0 || N == 0) return;
  if (!accumulate) std::fill(C, C + M * N, real(0));
  // K is the long dimension here (B*T rows in a weight gradient): walk it in fixed chunks, outer,
  // so the [chunk, N] slice of B stays in cache while every 32-row block of C takes its share;
  // each C entry sums the chunks in order, whatever the thread count
  constexpr Index kDepthChunk = 256;
  const Index nb = num_blocks(M, kRowBlock);
  ConstMatMap a(A, K, M);  // [K,M]
  ConstMatMap b(B, K, N);  // [K,N]
  auto block_of_chunk = [&](Index k0, Index blk) {
    const Index kc = std::min(kDepthChunk, K - k0);
    const Index m0 = blk * kRowBlock, mb = std::min(kRowBlock, M - m0);
    assign_block(C + m0 * N, mb, N, a.block(k0, m0, kc, mb).transpose(), b.middleRows(k0, kc), true);
  };
  if (!worth_a_parallel_region(nb, M * N * K)) {
    for (Index k0 = 0; k0 < K; k0 += kDepthChunk)
      for (Index blk = 0; blk < nb; ++blk) block_of_chunk(k0, blk);
    return;
  }
#pragma omp parallel
  for (Index k0 = 0; k0 < K; k0 += kDepthChunk) {
#pragma omp for schedule(static)
    for (Index blk = 0; blk < nb; ++blk) block_of_chunk(k0, blk);
  }
}

}  // namespace db
