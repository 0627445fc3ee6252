// gpu_logits.h: a host model's logits computed by its GPU twin (`deltabench forward --device cuda`).
//
// The model's parameters are copied to the GPU as they are, the same twin that trains there
// (models/cuda/gpu_model.h) runs the forward in fp32, and the logits come back to the host. Only
// builds with the CUDA backend define it (DELTABENCH_HAVE_CUDA); callers ask has_gpu_mixer
// (device_support.h) first, to refuse a model the GPU cannot run with a clear message.
#pragma once

#include <cstdint>

#include "models/backbones/model.h"

namespace db {

// tokens [B,T] (host, ids already checked against the vocabulary) -> logits [B,T,vocab] (host),
// on GPU `gpu`; throws std::runtime_error when that GPU is not visible
void gpu_forward_logits(const Model& model, const int32_t* tokens, int B, int T, int gpu, real* logits);

}  // namespace db
