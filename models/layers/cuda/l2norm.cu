// l2norm.cu: row-wise L2 normalisation kernels (see l2norm.h).
//
// A thread owns the columns j = threadIdx.x + k blockDim.x of its row and reads x[j] (dy[j])
// before writing y[j] (dx[j]), which is what lets the outputs alias the inputs. The block size
// depends only on dim, so the summation order, and every bit, depends only on the shapes.
#include "models/cuda/reduce.cuh"
#include "models/layers/cuda/l2norm.h"

namespace db::cuda {

namespace {

// one warp for narrow rows, one column per thread up to 512
int row_threads(int dim) {
  const int t = (dim + 31) / 32 * 32;
  return t < 32 ? 32 : (t > 512 ? 512 : t);
}

__global__ void l2norm_forward_kernel(const float* x, float* y, float* rstd, int dim, float eps) {
  __shared__ float red[32];
  const long long base = static_cast<long long>(blockIdx.x) * dim;
  float ss = 0.f;
  for (int j = threadIdx.x; j < dim; j += blockDim.x) ss += x[base + j] * x[base + j];
  const float rs = 1.f / sqrtf(block_sum(ss, red) + eps);
  if (threadIdx.x == 0) rstd[blockIdx.x] = rs;
  for (int j = threadIdx.x; j < dim; j += blockDim.x) y[base + j] = x[base + j] * rs;
}

__global__ void l2norm_backward_kernel(const float* y, const float* rstd, const float* dy, float* dx, int dim) {
  __shared__ float red[32];
  const long long base = static_cast<long long>(blockIdx.x) * dim;
  float dot = 0.f;
  for (int j = threadIdx.x; j < dim; j += blockDim.x) dot += dy[base + j] * y[base + j];
  dot = block_sum(dot, red);
  const float rs = rstd[blockIdx.x];
  for (int j = threadIdx.x; j < dim; j += blockDim.x) dx[base + j] = rs * (dy[base + j] - dot * y[base + j]);
}

}  // namespace

void l2norm_forward(const Context& ctx, const float* x, float* y, float* rstd, long long rows, int dim, float eps) {
  if (rows == 0 || dim == 0) return;
  l2norm_forward_kernel<<<static_cast<unsigned>(rows), row_threads(dim), 0, ctx.stream()>>>(x, y, rstd, dim, eps);
  DB_CUDA_CHECK_LAUNCH();
}

void l2norm_backward(const Context& ctx, const float* y, const float* rstd, const float* dy, float* dx,
                     long long rows, int dim) {
  if (rows == 0 || dim == 0) return;
  l2norm_backward_kernel<<<static_cast<unsigned>(rows), row_threads(dim), 0, ctx.stream()>>>(y, rstd, dy, dx, dim);
  DB_CUDA_CHECK_LAUNCH();
}

}  // namespace db::cuda
