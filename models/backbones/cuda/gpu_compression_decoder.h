// gpu_compression_decoder.h: the GPU twin of CompressionDecoder (models/backbones/compression_decoder.h),
// MAD's autoencoder decoder, which the "autoencoder" backbone puts where the "lm" backbone has its
// final norm.
//
//   z = x[:, T-1] + pe,  y = norm(gelu(fc2(norm2(gelu(fc1(norm1(z)))))))
//
// Same maths and parameters as the CPU module, read through the decoder's ParamScope
// (model.decoder -> norm1, fc1.weight [D,D], fc1.bias [D], norm2, fc2, norm); the norms are the GPU
// norm twins, the products cuBLAS GEMMs, the rest compression_decoder_kernels.cu. Shapes: rows = B*T.
#pragma once

#include <memory>

#include "models/cuda/gpu_module.h"

namespace db::cuda {

class GpuCompressionDecoder : public GpuModule {
 public:
  // layernorm: LayerNorm for the three norms (MAD's default), else RMSNorm, as the host decoder
  GpuCompressionDecoder(const Context& ctx, const ParamScope& scope, int d_model, bool layernorm, double norm_eps);
  ~GpuCompressionDecoder() override;

  // x [B,T,D] (only t = T-1 is read) -> y [B,T,D]
  void forward(const float* x, float* y, int B, int T) override;
  // dy [B,T,D] -> dx [B,T,D] (overwritten, zero except at t = T-1); parameter grads accumulate
  void backward(const float* dy, float* dx) override;

 private:
  const Context& ctx_;
  int D_;
  int B_ = 0, T_ = 0;
  std::unique_ptr<GpuModule> norm1_, norm2_, norm_out_;
  DeviceParam fc1_w_, fc1_b_, fc2_w_, fc2_b_;  // [D,D], [D] each
  // [rows, D]: decoder input, norm1, fc1, gelu, norm2, fc2, gelu (the CPU module's buffers)
  DeviceBuffer<float> z_, n1_, h1_, a1_, n2_, h2_, a2_;
  DeviceBuffer<float> grad_a_, grad_b_;  // [rows, D] work buffers
  DeviceBuffer<float> partials_;         // bias-gradient column sums
};

}  // namespace db::cuda
