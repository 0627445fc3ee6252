// norms.cu: RMSNorm, LayerNorm and head-norm kernels (see norms.h for the contract).
//
// RMSNorm backward, with xhat = x r (r = rstd), y = xhat w, and dn the gradient at y:
//   dx = r (dn w - xhat mean(dn w xhat)),  dw += sum_rows dn xhat.
// The head norm's gate folds in front of it: dn = dy silu(gate), dgate = dy xhat w silu'(gate),
// so RMSNorm is the head norm without a gate and one kernel pair serves both.
// LayerNorm backward: dx = r (dy w - mean(dy w) - xhat mean(dy w xhat)), dw += dy xhat, db += dy.
// In the LayerNorm backward a thread owns the columns j = threadIdx.x + k blockDim.x of every row of
// its block, in the RMSNorm kernels a lane owns j = lane + 32 k of its warp's rows; either way it
// reads dy[j] before writing dx[j] (dx may alias dy) and owns the same slots of the shared gradient
// accumulator (no synchronisation needed for it until the end). The block size depends only on dim, so the summation
// order, and with it every bit, depends only on the shapes. sigmoid and silu' are the CPU's own
// formulas (activations.h, host and device).
#include <algorithm>
#include <stdexcept>
#include <string>

#include "models/cuda/activation_io.cuh"
#include "models/cuda/reduce.cuh"
#include "models/layers/cuda/norms.h"
#include "models/numerics/activations.h"

namespace db::cuda {

namespace {

constexpr int kMaxRmsDim = 12000;  // dim floats of shared partial under the 48 KiB static limit
constexpr int kMaxLayerNormDim = 6000;  // 2 dim floats

// threads per row: one warp for narrow rows, one column per thread up to 512, then loops
int row_threads(int dim) {
  const int t = (dim + 31) / 32 * 32;
  return t < 32 ? 32 : (t > 512 ? 512 : t);
}

void check_dim(const char* what, int dim, int max_dim) {
  if (dim <= 0 || dim > max_dim)
    throw std::invalid_argument(std::string(what) + ": dim " + std::to_string(dim) + " outside 1.." +
                                std::to_string(max_dim));
}

// a warp per row, kRmsRowsPerBlock rows a block; gate null for plain RMSNorm. X: the type of x and
// gate, Y: of y.
constexpr int kRmsRowsPerBlock = 8;
template <class X, class Y>
__global__ void rms_forward_kernel(const X* x, const X* gate, const float* w, Y* y, float* rstd, long long rows,
                                   int dim, float eps) {
  const long long r = static_cast<long long>(blockIdx.x) * kRmsRowsPerBlock + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (r >= rows) return;
  const long long base = r * dim;
  float ss = 0.f;
  for (int j = lane; j < dim; j += 32) ss += load(x, base + j) * load(x, base + j);
  ss = warp_sum(ss);
  const float rs = 1.f / sqrtf(ss / static_cast<float>(dim) + eps);
  if (lane == 0) rstd[r] = rs;
  for (int j = lane; j < dim; j += 32) {
    float v = load(x, base + j) * rs * w[j];
    if (gate) {
      const float g = load(gate, base + j);
      v *= g * sigmoid(g);
    }
    store(y, base + j, v);
  }
}

// One block per kRowsPerPartial rows, blockDim.x / 32 warps: warp w takes rows r0 + w, r0 + w +
// warps, ..., reduces each with shuffles (no block barrier per row) and adds its rows' dw terms into
// its own slice of the shared accumulator [warps, dim]; at the end the block adds the slices in warp
// order into its partial partials[blockIdx.x] (when partials is not null). Every order is fixed by
// the shapes. X: the type of x and gate.
template <class X>
__global__ void rms_backward_kernel(const X* x, const X* gate, const float* w, const float* rstd, const float* dy,
                                    float* dx, float* dgate, float* partials, long long rows, int dim) {
  extern __shared__ float acc[];  // [warps, dim] the warps' dw terms
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  float* mine = acc + static_cast<long long>(warp) * dim;
  const long long r0 = static_cast<long long>(blockIdx.x) * kRowsPerPartial;
  const long long r1 = min(rows, r0 + kRowsPerPartial);
  if (partials)
    for (int j = lane; j < dim; j += 32) mine[j] = 0.f;
  for (long long r = r0 + warp; r < r1; r += warps) {
    const long long base = r * dim;
    const float rs = rstd[r];
    // c = mean(dn w xhat)
    float c = 0.f;
    for (int j = lane; j < dim; j += 32) {
      float dn = dy[base + j];
      if (gate) {
        const float g = load(gate, base + j);
        dn *= g * sigmoid(g);
      }
      c += dn * w[j] * load(x, base + j);
    }
    c = warp_sum(c) * (rs / static_cast<float>(dim));
    for (int j = lane; j < dim; j += 32) {
      const float gy = dy[base + j], xj = load(x, base + j);
      float dn = gy;
      if (gate) {
        const float g = load(gate, base + j), sg = sigmoid(g);
        if (dgate) dgate[base + j] = gy * xj * rs * w[j] * silu_grad_from_sigmoid(g, sg);
        dn = gy * g * sg;
      }
      if (partials) mine[j] += dn * xj * rs;
      dx[base + j] = rs * (dn * w[j] - xj * rs * c);
    }
  }
  if (!partials) return;
  __syncthreads();
  for (int j = threadIdx.x; j < dim; j += blockDim.x) {
    float s = 0.f;
    for (int k = 0; k < warps; ++k) s += acc[static_cast<long long>(k) * dim + j];
    partials[static_cast<long long>(blockIdx.x) * dim + j] = s;
  }
}

// one block per row
__global__ void layernorm_forward_kernel(const float* x, const float* w, const float* b, float* y, float* xhat,
                                         float* rstd, int dim, float eps) {
  __shared__ float red[32];
  const long long base = static_cast<long long>(blockIdx.x) * dim;
  float s = 0.f;
  for (int j = threadIdx.x; j < dim; j += blockDim.x) s += x[base + j];
  const float mean = block_sum(s, red) / static_cast<float>(dim);
  float v = 0.f;
  for (int j = threadIdx.x; j < dim; j += blockDim.x) {
    const float d = x[base + j] - mean;
    v += d * d;
  }
  const float var = block_sum(v, red) / static_cast<float>(dim);
  const float rs = 1.f / sqrtf(var + eps);
  if (threadIdx.x == 0) rstd[blockIdx.x] = rs;
  for (int j = threadIdx.x; j < dim; j += blockDim.x) {
    const float h = (x[base + j] - mean) * rs;
    xhat[base + j] = h;
    y[base + j] = h * w[j] + b[j];
  }
}

// one block per kRowsPerPartial rows; partials [2, gridDim.x, dim]: dw partials, then db partials.
// Dynamic shared memory: 2 dim floats.
__global__ void layernorm_backward_kernel(const float* xhat, const float* w, const float* rstd, const float* dy,
                                          float* dx, float* partials, long long rows, int dim) {
  extern __shared__ float acc[];  // [2, dim]: dw | db of this block
  __shared__ float red[32];
  const long long r0 = static_cast<long long>(blockIdx.x) * kRowsPerPartial;
  const long long r1 = min(rows, r0 + kRowsPerPartial);
  for (int j = threadIdx.x; j < dim; j += blockDim.x) acc[j] = acc[dim + j] = 0.f;
  for (long long r = r0; r < r1; ++r) {
    const long long base = r * dim;
    float m1 = 0.f, m2 = 0.f;  // mean(dy w), mean(dy w xhat)
    for (int j = threadIdx.x; j < dim; j += blockDim.x) {
      const float g = dy[base + j] * w[j];
      m1 += g;
      m2 += g * xhat[base + j];
    }
    m1 = block_sum(m1, red) / static_cast<float>(dim);
    m2 = block_sum(m2, red) / static_cast<float>(dim);
    const float rs = rstd[r];
    for (int j = threadIdx.x; j < dim; j += blockDim.x) {
      const float gy = dy[base + j], h = xhat[base + j];
      acc[j] += gy * h;
      acc[dim + j] += gy;
      dx[base + j] = rs * (gy * w[j] - m1 - h * m2);
    }
  }
  const long long count = gridDim.x;
  for (int j = threadIdx.x; j < dim; j += blockDim.x) {
    partials[static_cast<long long>(blockIdx.x) * dim + j] = acc[j];
    partials[(count + blockIdx.x) * dim + j] = acc[dim + j];
  }
}

template <class X, class Y>
void rms_forward(const Context& ctx, const X* x, const X* gate, const float* w, Y* y, float* rstd, long long rows,
                 int dim, float eps, const char* what) {
  if (rows == 0) return;
  check_dim(what, dim, kMaxRmsDim);
  rms_forward_kernel<<<blocks_for(rows, kRmsRowsPerBlock), 32 * kRmsRowsPerBlock, 0, ctx.stream()>>>(
      x, gate, w, y, rstd, rows, dim, eps);
  DB_CUDA_CHECK_LAUNCH();
}

template <class X>
void rms_backward(const Context& ctx, const X* x, const X* gate, const float* w, const float* rstd, const float* dy,
                  float* dx, float* dgate, float* dw, long long rows, int dim, DeviceBuffer<float>& partials,
                  const char* what) {
  if (rows == 0) return;
  check_dim(what, dim, kMaxRmsDim);
  const int count = partial_count(rows);
  float* part = dw ? partials.resize(static_cast<size_t>(count) * dim) : nullptr;
  // as many warps (up to 8) as have a dim-float slice of accumulator each in kMaxRmsDim floats
  const int warps = std::max(1, std::min(8, kMaxRmsDim / dim));
  const size_t shared = dw ? static_cast<size_t>(warps) * dim * sizeof(float) : 0;
  rms_backward_kernel<<<count, 32 * warps, shared, ctx.stream()>>>(x, gate, w, rstd, dy, dx, dgate, part, rows, dim);
  DB_CUDA_CHECK_LAUNCH();
  if (dw) add_partial_sums(ctx, part, count, dim, dw);
}

}  // namespace

void rmsnorm_forward(const Context& ctx, const float* x, const float* w, float* y, float* rstd, long long rows,
                     int dim, float eps) {
  rms_forward(ctx, x, static_cast<const float*>(nullptr), w, y, rstd, rows, dim, eps, "rmsnorm_forward");
}

void rmsnorm_backward(const Context& ctx, const float* x, const float* w, const float* rstd, const float* dy,
                      float* dx, float* dw, long long rows, int dim, DeviceBuffer<float>& partials) {
  rms_backward(ctx, x, static_cast<const float*>(nullptr), w, rstd, dy, dx, nullptr, dw, rows, dim, partials,
               "rmsnorm_backward");
}

void head_norm_forward(const Context& ctx, const float* o, const float* gate, const float* w, float* y, float* rstd,
                       long long rows, int dim, float eps) {
  rms_forward(ctx, o, gate, w, y, rstd, rows, dim, eps, "head_norm_forward");
}

void head_norm_forward(const Context& ctx, const bf16* o, const bf16* gate, const float* w, bf16* y, float* rstd,
                       long long rows, int dim, float eps) {
  rms_forward(ctx, o, gate, w, y, rstd, rows, dim, eps, "head_norm_forward");
}

void head_norm_backward(const Context& ctx, const float* o, const float* gate, const float* w, const float* rstd,
                        const float* dy, float* d_o, float* dgate, float* dw, long long rows, int dim,
                        DeviceBuffer<float>& partials) {
  rms_backward(ctx, o, gate, w, rstd, dy, d_o, gate ? dgate : nullptr, dw, rows, dim, partials, "head_norm_backward");
}

void head_norm_backward(const Context& ctx, const bf16* o, const bf16* gate, const float* w, const float* rstd,
                        const float* dy, float* d_o, float* dgate, float* dw, long long rows, int dim,
                        DeviceBuffer<float>& partials) {
  rms_backward(ctx, o, gate, w, rstd, dy, d_o, gate ? dgate : nullptr, dw, rows, dim, partials, "head_norm_backward");
}

void layernorm_forward(const Context& ctx, const float* x, const float* w, const float* b, float* y, float* xhat,
                       float* rstd, long long rows, int dim, float eps) {
  if (rows == 0) return;
  check_dim("layernorm_forward", dim, kMaxLayerNormDim);
  layernorm_forward_kernel<<<static_cast<unsigned>(rows), row_threads(dim), 0, ctx.stream()>>>(x, w, b, y, xhat,
                                                                                               rstd, dim, eps);
  DB_CUDA_CHECK_LAUNCH();
}

void layernorm_backward(const Context& ctx, const float* xhat, const float* w, const float* rstd, const float* dy,
                        float* dx, float* dw, float* db, long long rows, int dim, DeviceBuffer<float>& partials) {
  if (rows == 0) return;
  check_dim("layernorm_backward", dim, kMaxLayerNormDim);
  const int count = partial_count(rows);
  float* part = partials.resize(2 * static_cast<size_t>(count) * dim);
  layernorm_backward_kernel<<<count, row_threads(dim), 2 * static_cast<size_t>(dim) * sizeof(float), ctx.stream()>>>(
      xhat, w, rstd, dy, dx, part, rows, dim);
  DB_CUDA_CHECK_LAUNCH();
  add_partial_sums(ctx, part, count, dim, dw);
  add_partial_sums(ctx, part + static_cast<size_t>(count) * dim, count, dim, db);
}

}  // namespace db::cuda
