// gemm.h: row-major matrix products whose bits do not depend on the OpenMP thread count.
//
// Eigen's own GEMM threading picks its cache blocking (the split of the summed dimension) from the
// number of threads, so `C = A * B` on 1 and on 2 threads can differ in the last bits. So Eigen runs
// on one thread (gemm.cpp sets it), and these helpers cut C into fixed blocks of 128 rows, spread the
// blocks over threads, and evaluate each block with Eigen's serial product: each block is computed
// by the same code whatever the thread count. gemm_tn (weight gradients, where the summed dimension
// is B*T) walks that dimension in fixed chunks of 256, which keeps it as fast as Eigen's own serial
// product, and splits it into depth groups with partials summed in order, so that a narrow
// weight's gradient still spreads over many threads.
// Shapes: M rows of C, N columns of C, K the summed dimension; all buffers contiguous row-major.
#pragma once

#include "models/core/types.h"

namespace db {

// C[M,N] = A[M,K] * B[N,K]^T            (accumulate: C += ...)
void gemm_nt(const real* A, const real* B, real* C, Index M, Index N, Index K, bool accumulate = false);
// C[M,N] = A[M,K] * B[K,N]              (accumulate: C += ...)
void gemm_nn(const real* A, const real* B, real* C, Index M, Index N, Index K, bool accumulate = false);
// C[M,N] = A[K,M]^T * B[K,N]            (accumulate: C += ...)
void gemm_tn(const real* A, const real* B, real* C, Index M, Index N, Index K, bool accumulate = false);

}  // namespace db
