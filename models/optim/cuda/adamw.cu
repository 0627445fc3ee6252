// adamw.cu: AdamW update, gradient norm and clipping kernels (see adamw.h).
#include "models/optim/cuda/adamw.h"

namespace db::cuda {

namespace {

__global__ void begin_step(int64_t* step, const double* lr_device, double lr, double beta1, double beta2,
                           double weight_decay, AdamWStepScalars* scalars) {
  const int64_t t = ++*step;
  const double rate = lr_device ? *lr_device : lr;
  const double bias1 = 1.0 - pow(beta1, static_cast<double>(t));
  const double bias2 = 1.0 - pow(beta2, static_cast<double>(t));
  scalars->step_size = rate / bias1;
  scalars->inv_sqrt_bias2 = 1.0 / sqrt(bias2);
  scalars->decay_factor = 1.0 - rate * weight_decay;
}

__global__ void update(float* params, const float* grads, float* m, float* v, const uint8_t* decay, size_t n,
                       double beta1, double beta2, double eps, const AdamWStepScalars* scalars) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const AdamWStepScalars s = *scalars;
  const double gi = grads[i];
  const double mi = beta1 * m[i] + (1.0 - beta1) * gi;
  const double vi = beta2 * v[i] + (1.0 - beta2) * gi * gi;
  m[i] = static_cast<float>(mi);
  v[i] = static_cast<float>(vi);
  double pi = params[i];
  if (decay[i]) pi *= s.decay_factor;
  pi -= s.step_size * mi / (sqrt(vi) * s.inv_sqrt_bias2 + eps);
  params[i] = static_cast<float>(pi);
}

__device__ __forceinline__ double warp_sum_double(double v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// sum of v over the block in a fixed tree; the total is valid in thread 0
__device__ double block_sum_double(double v) {
  __shared__ double shared[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum_double(v);
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  return warp_sum_double(lane < warps ? shared[lane] : 0.0);
}

// block b: the squares of [n*b/P, n*(b+1)/P), each thread striding in order, then the block's tree
__global__ void squares_partials(const float* g, size_t n, double* partials) {
  const size_t lo = n * blockIdx.x / gridDim.x, hi = n * (blockIdx.x + 1) / gridDim.x;
  double s = 0.0;
  for (size_t i = lo + threadIdx.x; i < hi; i += blockDim.x) s += static_cast<double>(g[i]) * g[i];
  s = block_sum_double(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

__global__ void finish_norm(const double* partials, int count, double* norm) {
  double s = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partials[i];
  s = block_sum_double(s);
  if (threadIdx.x == 0) *norm = sqrt(s);
}

__global__ void scale_if_above(float* g, size_t n, const double* norm, double max_norm) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const double total = *norm;
  if (i >= n || !(max_norm > 0.0 && total > max_norm)) return;
  g[i] *= static_cast<float>(max_norm / (total + 1e-6));
}

}  // namespace

void adamw_begin_step(const Context& ctx, int64_t* step, const double* lr_device, double lr, double beta1, double beta2,
                      double weight_decay, AdamWStepScalars* scalars) {
  begin_step<<<1, 1, 0, ctx.stream()>>>(step, lr_device, lr, beta1, beta2, weight_decay, scalars);
  DB_CUDA_CHECK_LAUNCH();
}

void adamw_update(const Context& ctx, float* params, const float* grads, float* m, float* v, const uint8_t* decay,
                  size_t n, double beta1, double beta2, double eps, const AdamWStepScalars* scalars) {
  if (n == 0) return;
  update<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(params, grads, m, v, decay, n, beta1, beta2, eps, scalars);
  DB_CUDA_CHECK_LAUNCH();
}

void gradient_norm(const Context& ctx, const float* grads, size_t n, double* partials, double* norm) {
  squares_partials<<<kNormPartials, kThreads, 0, ctx.stream()>>>(grads, n, partials);
  DB_CUDA_CHECK_LAUNCH();
  finish_norm<<<1, kThreads, 0, ctx.stream()>>>(partials, kNormPartials, norm);
  DB_CUDA_CHECK_LAUNCH();
}

void clip_by_norm(const Context& ctx, float* grads, size_t n, const double* norm, double max_norm) {
  if (n == 0 || !(max_norm > 0.0)) return;
  scale_if_above<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(grads, n, norm, max_norm);
  DB_CUDA_CHECK_LAUNCH();
}

}  // namespace db::cuda
