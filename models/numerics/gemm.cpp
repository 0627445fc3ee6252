// gemm.cpp: fixed-block, thread-count-independent products (see gemm.h).
#include "models/numerics/gemm.h"

#include <malloc.h>

#include <algorithm>

#include "models/numerics/parallel.h"

namespace db {
namespace {

// C is cut into blocks of 128 rows: few enough packings of the other operand (Eigen packs both
// operands on every call), and still 128 blocks to share out for a step's 16384-row products
constexpr Index kRowBlock = 128;
// gemm_tn's summed dimension: chunks of 256 walked in order, in groups of at least 1024 that run
// in parallel, at most 16 groups (enough for a 16-core node)
constexpr Index kDepthChunk = 256;
constexpr Index kMinGroupDepth = 1024;
constexpr Index kMaxDepthGroups = 16;

// Eigen sizes its cache blocking (how the summed dimension is split) from the CPU's cache sizes,
// read at run time, and from its thread count; either would make the order of additions depend on
// the machine. Fixed cache sizes make every product's bits a function of the code alone (the values
// are a common L1d/L2/L3 of current x86-64 cores, so the blocking stays near the best on most
// machines), and one Eigen thread leaves all parallelism to these fixed blocks.
const bool kEigenBlockingFixed = [] {
  Eigen::setCpuCacheSizes(32 * 1024, 1024 * 1024, 8 * 1024 * 1024);
  Eigen::setNbThreads(1);
  return true;
}();
// Eigen allocates a product's packing buffers (megabytes for the LM head) on every call and frees
// them after it. By default glibc hands freed memory at the top of a heap back to the system once it
// exceeds 128 KiB, and every product would then fault in fresh pages. Raising the thresholds keeps
// freed memory in the process for the next product; M_MMAP_THRESHOLD also stops glibc from mapping
// and unmapping those buffers one by one.
const bool kFreedMemoryKept = [] {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  return true;
}();
using RowBlockMap = Eigen::Map<Eigen::Matrix<real, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

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
  // K is the long dimension here (B*T rows in a weight gradient), and M (a layer's output width) is
  // often only one to three 128-row blocks, too few to keep 16 threads busy. So K is cut into depth
  // groups, as many as its length gives (a function of K alone); each (group, row block) pair is one
  // unit of work that sums its group's fixed 256-deep chunks in order into the group's partial, and
  // the partials are added into C in group order. Every thread count does the same additions.
  const Index groups = std::clamp<Index>(K / kMinGroupDepth, 1, kMaxDepthGroups);
  const Index nb = num_blocks(M, kRowBlock);
  ConstMatMap a(A, K, M);  // [K,M]
  ConstMatMap b(B, K, N);  // [K,N]
  // with one group the chunks go straight into C
  static thread_local RealVector partial_store;
  if (groups > 1) partial_store.assign(static_cast<size_t>(groups * M * N), real(0));
  else if (!accumulate) std::fill(C, C + M * N, real(0));
  // [groups, M, N]; a plain pointer, since the worker threads would each see their own thread_local
  real* partials = partial_store.data();
  auto unit = [&](Index u) {
    const Index g = u / nb, blk = u % nb;
    const Index m0 = blk * kRowBlock, mb = std::min(kRowBlock, M - m0);
    real* out = groups > 1 ? partials + g * M * N : C;
    for (Index k0 = g * K / groups; k0 < (g + 1) * K / groups; k0 += kDepthChunk) {
      const Index kc = std::min(kDepthChunk, (g + 1) * K / groups - k0);
      assign_block(out + m0 * N, mb, N, a.block(k0, m0, kc, mb).transpose(), b.middleRows(k0, kc), true);
    }
  };
  if (worth_a_parallel_region(groups * nb, M * N * K)) {
#pragma omp parallel for schedule(static)
    for (Index u = 0; u < groups * nb; ++u) unit(u);
  } else {
    for (Index u = 0; u < groups * nb; ++u) unit(u);
  }
  if (groups == 1) return;
  parallel_blocks(M * N, 4096, M * N * groups, [&](Index i0, Index i1) {
    for (Index i = i0; i < i1; ++i) {
      real sum = accumulate ? C[i] : real(0);
      for (Index g = 0; g < groups; ++g) sum += partials[g * M * N + i];
      C[i] = sum;
    }
  });
}

}  // namespace db
