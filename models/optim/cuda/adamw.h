// adamw.h (cuda): the kernels of AdamW and global gradient-norm clipping on the GPU, used by
// GpuAdamW and GpuGradientClipper (gpu_adamw.h); the maths of models/optim/adamw.*.
//
// Everything a step needs is read on the device (the step counter, the learning rate when it comes
// from a device scalar, the gradient norm), so the clip + update can be captured in a CUDA graph
// and replayed with no host round trip. The update is elementwise in double, as the CPU's; the
// norm is a two-stage sum in double over fixed partitions (no atomics), so its bits are the same on
// every run. Plain device pointers, queued on the context's stream; this header is compiled by nvcc
// (C++17) as well as by the host compiler.
// Shapes: n = the parameter arena's size (values, gradients, moments, decay flags all [n]).
#pragma once

#include <cstddef>
#include <cstdint>

#include "models/cuda/runtime.h"

namespace db::cuda {

// the per-step numbers of the update, derived on the device from the step count and lr
struct AdamWStepScalars {
  double step_size;       // lr / (1 - beta1^t)
  double inv_sqrt_bias2;  // 1 / sqrt(1 - beta2^t)
  double decay_factor;    // 1 - lr * weight_decay
};

// one thread: ++*step, then *scalars for that step with learning rate *lr_device when lr_device is
// non-null, else lr
void adamw_begin_step(const Context& ctx, int64_t* step, const double* lr_device, double lr, double beta1, double beta2,
                      double weight_decay, AdamWStepScalars* scalars);

// params, grads, m, v, decay [n]: the AdamW update with the scalars of adamw_begin_step; decay[i] 1
// where weight decay applies. m and v are stored in float, computed in double (as the CPU).
void adamw_update(const Context& ctx, float* params, const float* grads, float* m, float* v, const uint8_t* decay,
                  size_t n, double beta1, double beta2, double eps, const AdamWStepScalars* scalars);

// partitions of the first stage of the norm: fixed, so the summation order depends on n alone
inline constexpr int kNormPartials = 512;

// *norm = sqrt(sum grads^2) over grads [n], in double; partials [kNormPartials] is scratch
void gradient_norm(const Context& ctx, const float* grads, size_t n, double* partials, double* norm);

// grads [n] *= max_norm / (*norm + 1e-6) when max_norm > 0 and *norm > max_norm (decided on the
// device; the CPU's rule and scale)
void clip_by_norm(const Context& ctx, float* grads, size_t n, const double* norm, double max_norm);

}  // namespace db::cuda
