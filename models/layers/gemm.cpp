// gemm.cpp: fixed-block, thread-count-independent products (see gemm.h).
#include "models/layers/gemm.h"

#include "models/layers/parallel.h"

namespace db {
namespace {

constexpr Index kRowBlock = 32;
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
  ConstMatMap a(A, K, M);  // [K,M]
  ConstMatMap b(B, K, N);  // [K,N]
  parallel_blocks(M, kRowBlock, M * N * K, [&](Index m0, Index m1) {
    assign_block(C + m0 * N, m1 - m0, N, a.middleCols(m0, m1 - m0).transpose(), b, accumulate);
  });
}

}  // namespace db
