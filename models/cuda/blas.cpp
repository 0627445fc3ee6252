// blas.cpp: row-major wrappers over cublasSgemm and, for bf16 operands, cublasGemmEx (see blas.h).
#include "models/cuda/blas.h"

#include <stdexcept>

#include "models/cuda/bf16.h"

namespace db::cuda {

namespace {
cublasOperation_t op(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

// elements spanned by a row-major [rows, cols] matrix with row stride ld
size_t extent(int rows, int cols, int ld) { return rows == 0 ? 0 : size_t(rows - 1) * ld + cols; }

// the operand as bf16: itself, or its fp32 values rounded into scratch slot `slot`
const void* as_bf16(const Context& ctx, GemmIn in, size_t n, int slot) {
  if (in.is_bf16) return in.data;
  bf16* rounded = ctx.bf16_scratch(slot, n);
  round_to_bf16(ctx, static_cast<const float*>(in.data), rounded, n);
  return rounded;
}
}  // namespace

void gemm(const Context& ctx, bool trans_a, bool trans_b, int M, int N, int K, float alpha, GemmIn A, int lda,
          GemmIn B, int ldb, float beta, GemmOut C, int ldc) {
  if (M == 0 || N == 0) return;
  const bool all_fp32 = !A.is_bf16 && !B.is_bf16 && !C.is_bf16;
  // (with K = 0 the operands are not read, and C = beta C)
  if ((all_fp32 && ctx.precision() == Precision::fp32) || (K == 0 && !C.is_bf16)) {
    // column-major C^T [N,M] = op(B)^T [N,K] op(A)^T [K,M]
    DB_CUDA_CHECK(cublasSgemm(ctx.blas(), op(trans_b), op(trans_a), N, M, K, &alpha, static_cast<const float*>(B.data),
                              ldb, static_cast<const float*>(A.data), lda, &beta, static_cast<float*>(C.data), ldc));
    return;
  }
  if (C.is_bf16 && beta != 0.f) throw std::logic_error("gemm: a bf16 output is written, never accumulated");
  const size_t na = trans_a ? extent(K, M, lda) : extent(M, K, lda);
  const size_t nb = trans_b ? extent(N, K, ldb) : extent(K, N, ldb);
  const void* a16 = as_bf16(ctx, A, na, 0);
  const void* b16 = as_bf16(ctx, B, nb, 1);
  DB_CUDA_CHECK(cublasGemmEx(ctx.blas(), op(trans_b), op(trans_a), N, M, K, &alpha, b16, CUDA_R_16BF, ldb, a16,
                             CUDA_R_16BF, lda, &beta, C.data, C.is_bf16 ? CUDA_R_16BF : CUDA_R_32F, ldc,
                             CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

void gemm_strided_batched(const Context& ctx, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                          const float* A, int lda, long long stride_a, const float* B, int ldb, long long stride_b,
                          float beta, float* C, int ldc, long long stride_c, int batch) {
  if (M == 0 || N == 0 || batch == 0) return;
  DB_CUDA_CHECK(cublasSgemmStridedBatched(ctx.blas(), op(trans_b), op(trans_a), N, M, K, &alpha, B, ldb, stride_b, A,
                                          lda, stride_a, &beta, C, ldc, stride_c, batch));
}

void linear_forward(const Context& ctx, GemmIn x, GemmIn W, GemmOut y, int rows, int in, int out, float beta) {
  gemm(ctx, false, true, rows, out, in, 1.f, x, in, W, in, beta, y, out);
}

void linear_backward_input(const Context& ctx, GemmIn dy, GemmIn W, float* dx, int rows, int in, int out, float beta) {
  gemm(ctx, false, false, rows, in, out, 1.f, dy, out, W, in, beta, dx, in);
}

void linear_backward_weight(const Context& ctx, GemmIn x, GemmIn dy, float* dW, int rows, int in, int out) {
  gemm(ctx, true, false, out, in, rows, 1.f, dy, out, x, in, 1.f, dW, in);
}

void linear_backward(const Context& ctx, GemmIn x, const float* dy, GemmIn W, float* dW, float* dx, int rows, int in,
                     int out, float beta) {
  GemmIn g = dy;
  if (ctx.precision() == Precision::bf16) {
    const size_t n = size_t(rows) * out;
    bf16* rounded = ctx.bf16_scratch(Context::kSharedOperandSlot, n);
    round_to_bf16(ctx, dy, rounded, n);
    g = static_cast<const bf16*>(rounded);
  }
  linear_backward_weight(ctx, x, g, dW, rows, in, out);
  linear_backward_input(ctx, g, W, dx, rows, in, out, beta);
}

}  // namespace db::cuda
