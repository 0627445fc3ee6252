// gpu_adamw.h: AdamW and global gradient-norm clipping over the device parameter mirror, the twins
// of db::AdamW and db::clip_gradient_norm (models/optim/adamw.h).
//
// The moments, the per-element weight-decay flags (from ParamInfo::weight_decay) and the step
// counter live on the device, and a step reads nothing from the host: the learning rate comes as an
// argument or, for a captured CUDA graph that is replayed every step, from a device scalar the host
// rewrites between replays. The counter on the device is the authority (a replay advances it
// unseen), so steps_taken() downloads it. Checkpoints move the state through a host db::AdamW,
// whose buffers save_training_state already writes (adamw.m, adamw.v, adamw_steps).
// Shapes: n = the arena's size; every buffer here is [n] laid out as the arena.
#pragma once

#include <cstdint>

#include "models/cuda/device_params.h"
#include "models/cuda/runtime.h"
#include "models/optim/adamw.h"
#include "models/optim/cuda/adamw.h"

namespace db::cuda {

class GpuAdamW {
 public:
  // moments zero, step 0, over params (its host arena supplies the weight-decay flags)
  GpuAdamW(DeviceParams& params, const Context& ctx, AdamWConfig config);

  // one update from the gradients in params, learning rate lr (the host schedule's value)
  void step(double lr);
  // the same with the learning rate read from lr_device [1] when the step runs (graph replay)
  void step_with_device_lr(const double* lr_device);

  // these synchronise the stream
  int64_t steps_taken() const;
  void set_steps_taken(int64_t steps);
  // back to the state of a fresh optimizer (queued; no synchronisation)
  void reset();

  // moments on the device, [n] each
  const float* first_moment() const { return m_.data(); }
  const float* second_moment() const { return v_.data(); }
  // checkpoints: moments and step count to / from a host AdamW over an arena of the same layout
  // (synchronise the stream)
  void download_state(AdamW& host) const;
  void upload_state(AdamW& host);

 private:
  void run_step(const double* lr_device, double lr);
  DeviceParams& params_;
  const Context& ctx_;
  AdamWConfig config_;
  DeviceBuffer<float> m_, v_;             // [n]
  DeviceBuffer<uint8_t> decay_;           // [n] 1 where weight decay applies
  DeviceBuffer<int64_t> step_;            // [1]
  DeviceBuffer<AdamWStepScalars> scalars_;  // [1]
};

// Global gradient-norm clipping with the norm kept on the device.
class GpuGradientClipper {
 public:
  explicit GpuGradientClipper(const Context& ctx);
  // grads [n]: their global L2 norm to norm_device(), then grads scaled so the norm is at most
  // max_norm (the CPU's rule); no host synchronisation
  void clip(float* grads, size_t n, double max_norm);
  // only the norm (no scaling)
  void measure(const float* grads, size_t n);
  // the norm before clipping of the last call, on the device
  const double* norm_device() const { return norm_.data(); }
  // the same, downloaded; synchronises the stream
  double last_norm() const;

 private:
  const Context& ctx_;
  DeviceBuffer<double> partials_;  // [kNormPartials]
  DeviceBuffer<double> norm_;      // [1]
};

}  // namespace db::cuda
