// gpu_logits.cpp: a host model's logits on the GPU (see gpu_logits.h).
#include "harness/train/gpu_logits.h"

#include "harness/train/device_support.h"
#include "models/cuda/device_params.h"
#include "models/cuda/gpu_model.h"
#include "models/cuda/runtime.h"

namespace db {

void gpu_forward_logits(const Model& model, const int32_t* tokens, int B, int T, int gpu, real* logits) {
  require_visible_gpu(gpu);
  const size_t n = size_t(B) * T, values = n * model.config().vocab_size;
  cuda::Context ctx(gpu);
  cuda::DeviceParams params(model.params(), ctx);
  cuda::GpuModel twin(ctx, model, params);
  cuda::DeviceBuffer<int32_t> device_tokens(n);     // [B,T]
  cuda::DeviceBuffer<float> device_logits(values);  // [B,T,vocab]
  cuda::upload(tokens, device_tokens.data(), n, ctx.stream());
  twin.forward_logits(device_tokens.data(), B, T, device_logits.data());
  cuda::download(device_logits.data(), logits, values, ctx.stream());
  ctx.synchronize();
}

}  // namespace db
