// gpu_model.h: the device twin of db::Model (models/backbones/model.h), a whole language model on
// one GPU.
//
// Built from a host Model, whose config it mirrors layer for layer and whose parameters it reads
// and trains through DeviceParams (same names, same offsets). Every activation stays on the device;
// the host hands over token ids, the flat positions that carry a target and those targets, all
// already on the device, and reads back only what it asks for (the loss, the argmax). The step is
// therefore a fixed sequence of kernels and GEMMs on one stream, which a CUDA graph can replay.
// Supported: the "lm" backbone and MAD's "autoencoder" (its decoder in place of the final norm), layouts block and alternate, RMSNorm or LayerNorm, SwiGLU or no
// MLP, learned positions or none, tied or untied head with optional bias, every mixer listed in
// gpu_mixer_registry(). Anything else is refused by the constructor, naming it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "models/backbones/model.h"
#include "models/cuda/bf16.h"
#include "models/cuda/device_params.h"
#include "models/cuda/gpu_module.h"
#include "models/cuda/runtime.h"
#include "models/layers/cuda/embedding.h"

namespace db::cuda {

class GpuLmHeadLoss;

class GpuModel {
 public:
  GpuModel(const Context& ctx, const Model& host, DeviceParams& params);
  ~GpuModel();
  GpuModel(const GpuModel&) = delete;
  GpuModel& operator=(const GpuModel&) = delete;

  // tokens [B,T]; labelled [M] flat positions b*T+t that have a target, ascending; targets [M] in
  // [0, N): device pointers that must stay valid until backward(). The summed cross-entropy goes to
  // loss_sum() and the argmax of each labelled row to argmax(); with need_grad the gradient of the
  // MEAN loss is prepared for backward().
  void forward_loss(const int32_t* tokens, int B, int T, const int32_t* labelled, const int32_t* targets, int M,
                    bool need_grad);
  const double* loss_sum() const;  // device scalar, summed in double as on the CPU
  const int32_t* argmax() const { return argmax_.data(); }  // device [M]
  // adds the gradient of the last forward_loss's mean loss into the parameter gradients
  void backward();
  // tokens [B,T] (device) -> logits [B,T,N] (device) at every position, as Model::forward_logits;
  // keeps nothing for a backward
  void forward_logits(const int32_t* tokens, int B, int T, float* logits);

 private:
  struct Layer;
  void forward_trunk(const int32_t* tokens, int B, int T);

  const Context& ctx_;
  ModelConfig config_;
  DeviceParams& params_;
  DeviceParam embedding_, position_, head_weight_, head_bias_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::unique_ptr<GpuModule> final_norm_;
  std::unique_ptr<GpuLmHeadLoss> head_;

  int B_ = 0, T_ = 0, M_ = 0;
  const int32_t* tokens_ = nullptr;
  const int32_t* labelled_ = nullptr;
  std::vector<DeviceBuffer<float>> acts_;  // [n_layers + 1][B*T*D] residual stream before each layer
  DeviceBuffer<float> final_;              // [B*T, D] after the final norm
  ActivationBuffer gathered_;              // [M, D] the head's input, fp32 or bf16 (bf16.h)
  DeviceBuffer<float> grad_a_, grad_b_, scratch_;  // [B*T, D]
  DeviceBuffer<int32_t> argmax_;                   // [M]
  EmbeddingScratch embedding_scratch_;             // the embedding backward's sort
};

}  // namespace db::cuda
