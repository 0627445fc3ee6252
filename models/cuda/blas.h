// blas.h: row-major GEMMs on the context's stream, through cuBLAS.
//
// deltabench's buffers are row-major; cuBLAS is column-major. A row-major C = op(A) op(B) is the
// column-major C^T = op(B)^T op(A)^T, so these wrappers swap the operands and keep the caller in
// row-major terms throughout. fp32 in, fp32 accumulate, no TF32 (the Context's math mode): for a
// fixed GPU and cuBLAS version the results are the same bits on every run. A Context set to bf16
// GEMM operands (train.precision: bf16) makes gemm and the Linear products round both operands to
// bf16 first (tensor cores, fp32 accumulation and output); gemm_strided_batched (attention's
// scores and mixing) stays fp32.
#pragma once

#include "models/cuda/runtime.h"

namespace db::cuda {

// C[M,N] = alpha op(A) op(B) + beta C, all row-major with leading (row) strides lda, ldb, ldc.
// op(A) is [M,K]: A is [M,K] (trans_a false) or [K,M] (true); likewise op(B) is [K,N].
void gemm(const Context& ctx, bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc);

// the same for `batch` independent products, matrices `stride_*` floats apart
void gemm_strided_batched(const Context& ctx, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                          const float* A, int lda, long long stride_a, const float* B, int ldb, long long stride_b,
                          float beta, float* C, int ldc, long long stride_c, int batch);

// The three products of a Linear layer y = x W^T, W [out, in]:
// y [rows,out] = x [rows,in] W^T (beta 0: overwrite; 1: add)
void linear_forward(const Context& ctx, const float* x, const float* W, float* y, int rows, int in, int out,
                    float beta = 0.f);
// dx [rows,in] = dy [rows,out] W (beta 0: overwrite; 1: add)
void linear_backward_input(const Context& ctx, const float* dy, const float* W, float* dx, int rows, int in, int out,
                           float beta = 0.f);
// dW [out,in] += dy^T x
void linear_backward_weight(const Context& ctx, const float* x, const float* dy, float* dW, int rows, int in, int out);

}  // namespace db::cuda
