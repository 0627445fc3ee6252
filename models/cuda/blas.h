// blas.h: row-major GEMMs on the context's stream, through cuBLAS.
//
// deltabench's buffers are row-major; cuBLAS is column-major. A row-major C = op(A) op(B) is the
// column-major C^T = op(B)^T op(A)^T, so these wrappers swap the operands and keep the caller in
// row-major terms throughout. fp32 in, fp32 accumulate, no TF32 (the Context's math mode): for a
// fixed GPU and cuBLAS version the results are the same bits on every run.
// In a bf16 run (Context::precision) gemm and the Linear products run on tensor cores with bf16
// operands and fp32 accumulation: an operand given in bf16 (a weight's bf16 copy, a stored
// activation) is read as it is, one given in fp32 is rounded to bf16 first; the output is fp32 or
// bf16 as the caller's buffer. gemm_strided_batched (attention's scores and mixing) stays fp32.
#pragma once

#include "models/cuda/runtime.h"

namespace db::cuda {

// a GEMM input: fp32 or bf16 values in device memory
struct GemmIn {
  GemmIn(const float* p) : data(p), is_bf16(false) {}  // NOLINT(google-explicit-constructor)
  GemmIn(const bf16* p) : data(p), is_bf16(true) {}    // NOLINT(google-explicit-constructor)
  // the operand `elements` values further on (a block of its rows)
  GemmIn advanced(size_t elements) const {
    return is_bf16 ? GemmIn(static_cast<const bf16*>(data) + elements)
                   : GemmIn(static_cast<const float*>(data) + elements);
  }
  const void* data;
  bool is_bf16;
};
// a GEMM output: fp32 or bf16 (bf16 only in a bf16 run, and only with beta 0)
struct GemmOut {
  GemmOut(float* p) : data(p), is_bf16(false) {}  // NOLINT(google-explicit-constructor)
  GemmOut(bf16* p) : data(p), is_bf16(true) {}    // NOLINT(google-explicit-constructor)
  void* data;
  bool is_bf16;
};

// C[M,N] = alpha op(A) op(B) + beta C, all row-major with leading (row) strides lda, ldb, ldc.
// op(A) is [M,K]: A is [M,K] (trans_a false) or [K,M] (true); likewise op(B) is [K,N].
void gemm(const Context& ctx, bool trans_a, bool trans_b, int M, int N, int K, float alpha, GemmIn A, int lda,
          GemmIn B, int ldb, float beta, GemmOut C, int ldc);

// the same for `batch` independent fp32 products, matrices `stride_*` floats apart
void gemm_strided_batched(const Context& ctx, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                          const float* A, int lda, long long stride_a, const float* B, int ldb, long long stride_b,
                          float beta, float* C, int ldc, long long stride_c, int batch);

// The three products of a Linear layer y = x W^T, W [out, in] (a weight's GemmIn is
// DeviceParam::operand: its bf16 copy in a bf16 run):
// y [rows,out] = x [rows,in] W^T (beta 0: overwrite; 1: add)
void linear_forward(const Context& ctx, GemmIn x, GemmIn W, GemmOut y, int rows, int in, int out, float beta = 0.f);
// dx [rows,in] = dy [rows,out] W (beta 0: overwrite; 1: add)
void linear_backward_input(const Context& ctx, GemmIn dy, GemmIn W, float* dx, int rows, int in, int out,
                           float beta = 0.f);
// dW [out,in] += dy^T x
void linear_backward_weight(const Context& ctx, GemmIn x, GemmIn dy, float* dW, int rows, int in, int out);
// both of the above from one dy [rows,out]: dW += dy^T x, dx = dy W (beta 0) or dx += dy W (beta 1);
// a bf16 run rounds dy once for the two products
void linear_backward(const Context& ctx, GemmIn x, const float* dy, GemmIn W, float* dW, float* dx, int rows, int in,
                     int out, float beta = 0.f);

}  // namespace db::cuda
