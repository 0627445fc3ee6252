// blas.cpp: row-major wrappers over cublasSgemm and, for bf16 operands, cublasGemmEx (see blas.h).
#include "models/cuda/blas.h"

#include "models/cuda/bf16.h"

namespace db::cuda {

namespace {
cublasOperation_t op(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

// elements spanned by a row-major [rows, cols] matrix with row stride ld
size_t extent(int rows, int cols, int ld) { return rows == 0 ? 0 : size_t(rows - 1) * ld + cols; }
}  // namespace

void gemm(const Context& ctx, bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc) {
  if (M == 0 || N == 0) return;
  if (ctx.gemm_operands() == GemmOperands::fp32 || K == 0) {
    // column-major C^T [N,M] = op(B)^T [N,K] op(A)^T [K,M]
    DB_CUDA_CHECK(cublasSgemm(ctx.blas(), op(trans_b), op(trans_a), N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc));
    return;
  }
  // the same product from operands rounded to bf16, accumulated and written in fp32
  const size_t na = trans_a ? extent(K, M, lda) : extent(M, K, lda), nb = trans_b ? extent(N, K, ldb) : extent(K, N, ldb);
  uint16_t* a16 = ctx.bf16_scratch(0, na);
  uint16_t* b16 = ctx.bf16_scratch(1, nb);
  round_to_bf16(ctx, A, a16, na);
  round_to_bf16(ctx, B, b16, nb);
  DB_CUDA_CHECK(cublasGemmEx(ctx.blas(), op(trans_b), op(trans_a), N, M, K, &alpha, b16, CUDA_R_16BF, ldb, a16,
                             CUDA_R_16BF, lda, &beta, C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

void gemm_strided_batched(const Context& ctx, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                          const float* A, int lda, long long stride_a, const float* B, int ldb, long long stride_b,
                          float beta, float* C, int ldc, long long stride_c, int batch) {
  if (M == 0 || N == 0 || batch == 0) return;
  DB_CUDA_CHECK(cublasSgemmStridedBatched(ctx.blas(), op(trans_b), op(trans_a), N, M, K, &alpha, B, ldb, stride_b, A,
                                          lda, stride_a, &beta, C, ldc, stride_c, batch));
}

void linear_forward(const Context& ctx, const float* x, const float* W, float* y, int rows, int in, int out,
                    float beta) {
  gemm(ctx, false, true, rows, out, in, 1.f, x, in, W, in, beta, y, out);
}

void linear_backward_input(const Context& ctx, const float* dy, const float* W, float* dx, int rows, int in, int out,
                           float beta) {
  gemm(ctx, false, false, rows, in, out, 1.f, dy, out, W, in, beta, dx, in);
}

void linear_backward_weight(const Context& ctx, const float* x, const float* dy, float* dW, int rows, int in, int out) {
  gemm(ctx, true, false, out, in, rows, 1.f, dy, out, x, in, 1.f, dW, in);
}

}  // namespace db::cuda
