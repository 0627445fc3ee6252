// gpu_adamw.cpp: the device optimizer and clipper (see gpu_adamw.h).
#include "models/optim/cuda/gpu_adamw.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace db::cuda {

GpuAdamW::GpuAdamW(DeviceParams& params, const Context& ctx, AdamWConfig config)
    : params_(params), ctx_(ctx), config_(config) {
  const size_t n = params.size();
  m_.resize(n);
  v_.resize(n);
  step_.resize(1);
  scalars_.resize(1);
  std::vector<uint8_t> decay(n, 0);
  for (const ParamInfo& p : params.host().params())
    if (p.weight_decay) std::fill_n(decay.begin() + static_cast<std::ptrdiff_t>(p.offset), p.size, uint8_t{1});
  upload(decay.data(), decay_.resize(n), n, ctx.stream());
  reset();
  ctx.synchronize();  // the flags' host copy goes out of scope
}

void GpuAdamW::reset() {
  m_.zero(ctx_.stream());
  v_.zero(ctx_.stream());
  step_.zero(ctx_.stream());
}

void GpuAdamW::run_step(const double* lr_device, double lr) {
  adamw_begin_step(ctx_, step_.data(), lr_device, lr, config_.beta1, config_.beta2, config_.weight_decay,
                   scalars_.data());
  adamw_update(ctx_, params_.values(), params_.grads(), m_.data(), v_.data(), decay_.data(), params_.size(),
               config_.beta1, config_.beta2, config_.eps, scalars_.data());
}

void GpuAdamW::step(double lr) { run_step(nullptr, lr); }

void GpuAdamW::step_with_device_lr(const double* lr_device) {
  if (!lr_device) throw std::invalid_argument("GpuAdamW::step_with_device_lr: null learning-rate pointer");
  run_step(lr_device, 0.0);
}

int64_t GpuAdamW::steps_taken() const {
  int64_t host = 0;
  download(step_.data(), &host, 1, ctx_.stream());
  ctx_.synchronize();
  return host;
}

void GpuAdamW::set_steps_taken(int64_t steps) {
  upload(&steps, step_.data(), 1, ctx_.stream());
  ctx_.synchronize();
}

void GpuAdamW::download_state(AdamW& host) const {
  const size_t n = params_.size();
  if (host.first_moment().size() != n || host.second_moment().size() != n)
    throw std::logic_error("GpuAdamW: the host optimizer's size differs from the device's");
  download(m_.data(), host.first_moment().data(), n, ctx_.stream());
  download(v_.data(), host.second_moment().data(), n, ctx_.stream());
  host.set_steps_taken(steps_taken());  // synchronises, after the moments
}

void GpuAdamW::upload_state(AdamW& host) {
  const size_t n = params_.size();
  if (host.first_moment().size() != n || host.second_moment().size() != n)
    throw std::logic_error("GpuAdamW: the host optimizer's size differs from the device's");
  upload(host.first_moment().data(), m_.data(), n, ctx_.stream());
  upload(host.second_moment().data(), v_.data(), n, ctx_.stream());
  set_steps_taken(host.steps_taken());  // synchronises, after the moments
}

GpuGradientClipper::GpuGradientClipper(const Context& ctx) : ctx_(ctx) {
  partials_.resize(kNormPartials);
  norm_.resize(1);
  norm_.zero(ctx.stream());
}

void GpuGradientClipper::measure(const float* grads, size_t n) {
  gradient_norm(ctx_, grads, n, partials_.data(), norm_.data());
}

void GpuGradientClipper::clip(float* grads, size_t n, double max_norm) {
  measure(grads, n);
  clip_by_norm(ctx_, grads, n, norm_.data(), max_norm);
}

double GpuGradientClipper::last_norm() const {
  double host = 0.0;
  download(norm_.data(), &host, 1, ctx_.stream());
  ctx_.synchronize();
  return host;
}

}  // namespace db::cuda
