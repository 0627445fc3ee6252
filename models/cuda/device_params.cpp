// device_params.cpp: the parameter mirror (see device_params.h).
#include "models/cuda/device_params.h"

#include <fmt/format.h>

#include <stdexcept>

#include "models/cuda/bf16.h"

namespace db::cuda {

DeviceParams::DeviceParams(const ParamArena& host, const Context& ctx) : host_(host), ctx_(ctx), size_(host.size()) {
  if (!host.allocated()) throw std::logic_error("DeviceParams: the host arena is not allocated");
  values_.resize(size_);
  grads_.resize(size_);
  values_bf16_.resize(size_);
  upload_values(host);
  zero_grad();
}

DeviceParam DeviceParams::operator[](const std::string& name) {
  const int i = host_.find(name);
  if (i < 0) throw std::logic_error(fmt::format("DeviceParams: the model has no parameter '{}'", name));
  const ParamInfo& info = host_.params()[i];
  return {values_.data() + info.offset, grads_.data() + info.offset, info.size, values_bf16_.data() + info.offset};
}

void DeviceParams::zero_grad() { grads_.zero(ctx_.stream()); }

void DeviceParams::refresh_bf16_copy() {
  if (ctx_.precision() == Precision::bf16) round_to_bf16(ctx_, values_.data(), values_bf16_.data(), size_);
}

void DeviceParams::upload_values(const ParamArena& host) {
  upload(host.data(), values_.data(), size_, ctx_.stream());
  ctx_.synchronize();
}

void DeviceParams::download_values(ParamArena& host) {
  download(values_.data(), host.data(), size_, ctx_.stream());
  ctx_.synchronize();
}

void DeviceParams::download_grads(ParamArena& host) {
  download(grads_.data(), host.grad(), size_, ctx_.stream());
  ctx_.synchronize();
}

}  // namespace db::cuda
