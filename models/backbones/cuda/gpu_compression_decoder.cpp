// gpu_compression_decoder.cpp: GpuCompressionDecoder (see gpu_compression_decoder.h). The backward is
// the CPU module's chain in reverse; bias gradients are fixed-order column sums (column_sums.h).
#include "models/backbones/cuda/gpu_compression_decoder.h"

#include "models/backbones/cuda/compression_decoder_kernels.h"
#include "models/cuda/blas.h"
#include "models/cuda/column_sums.h"
#include "models/layers/cuda/gpu_norms.h"
#include "models/layers/cuda/lm_head_loss.h"

namespace db::cuda {

namespace {
std::unique_ptr<GpuModule> make_norm(const Context& ctx, const ParamScope& scope, int D, bool layernorm, double eps) {
  if (layernorm) return std::make_unique<GpuLayerNorm>(ctx, scope, D, eps);
  return std::make_unique<GpuRMSNorm>(ctx, scope, D, eps);
}
}  // namespace

GpuCompressionDecoder::GpuCompressionDecoder(const Context& ctx, const ParamScope& scope, int d_model, bool layernorm,
                                             double norm_eps)
    : ctx_(ctx),
      D_(d_model),
      norm1_(make_norm(ctx, scope.sub("norm1"), d_model, layernorm, norm_eps)),
      norm2_(make_norm(ctx, scope.sub("norm2"), d_model, layernorm, norm_eps)),
      norm_out_(make_norm(ctx, scope.sub("norm"), d_model, layernorm, norm_eps)),
      fc1_w_(scope("fc1.weight")),
      fc1_b_(scope("fc1.bias")),
      fc2_w_(scope("fc2.weight")),
      fc2_b_(scope("fc2.bias")) {}

GpuCompressionDecoder::~GpuCompressionDecoder() = default;

void GpuCompressionDecoder::forward(const float* x, float* y, int B, int T) {
  B_ = B, T_ = T;
  const int D = D_, rows = B * T;
  const long long n = static_cast<long long>(rows) * D;
  decoder_broadcast_last(ctx_, x, z_.resize(n), B, T, D);
  norm1_->forward(z_.data(), n1_.resize(n), B, T);
  linear_forward(ctx_, n1_.data(), fc1_w_.operand(ctx_), h1_.resize(n), rows, D, D);
  add_row_bias(ctx_, h1_.data(), fc1_b_.value, rows, D);
  gelu_forward(ctx_, h1_.data(), a1_.resize(n), n);
  norm2_->forward(a1_.data(), n2_.resize(n), B, T);
  linear_forward(ctx_, n2_.data(), fc2_w_.operand(ctx_), h2_.resize(n), rows, D, D);
  add_row_bias(ctx_, h2_.data(), fc2_b_.value, rows, D);
  gelu_forward(ctx_, h2_.data(), a2_.resize(n), n);
  norm_out_->forward(a2_.data(), y, B, T);
}

void GpuCompressionDecoder::backward(const float* dy, float* dx) {
  const int D = D_, rows = B_ * T_;
  const long long n = static_cast<long long>(rows) * D;
  float* ga = grad_a_.resize(n);
  float* gb = grad_b_.resize(n);
  norm_out_->backward(dy, ga);             // d a2
  gelu_backward(ctx_, h2_.data(), ga, gb, n);  // d h2
  add_column_sums(ctx_, gb, rows, D, fc2_b_.grad, partials_);
  linear_backward(ctx_, n2_.data(), gb, fc2_w_.operand(ctx_), fc2_w_.grad, ga, rows, D, D);  // d n2
  norm2_->backward(ga, gb);                    // d a1
  gelu_backward(ctx_, h1_.data(), gb, ga, n);  // d h1
  add_column_sums(ctx_, ga, rows, D, fc1_b_.grad, partials_);
  linear_backward(ctx_, n1_.data(), ga, fc1_w_.operand(ctx_), fc1_w_.grad, gb, rows, D, D);  // d n1
  norm1_->backward(gb, ga);                                        // d z
  decoder_broadcast_last_backward(ctx_, ga, dx, B_, T_, D);
}

}  // namespace db::cuda
