// blas.cpp: row-major wrappers over cublasSgemm (see blas.h).
#include "models/cuda/blas.h"

namespace db::cuda {

namespace {
cublasOperation_t op(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }
}  // namespace

void gemm(const Context& ctx, bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc) {
  if (M == 0 || N == 0) return;
  // column-major C^T [N,M] = op(B)^T [N,K] op(A)^T [K,M]
  DB_CUDA_CHECK(cublasSgemm(ctx.blas(), op(trans_b), op(trans_a), N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc));
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
