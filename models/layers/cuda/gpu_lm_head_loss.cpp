// gpu_lm_head_loss.cpp: the blocked head + cross-entropy on the device (see gpu_lm_head_loss.h).
#include "models/layers/cuda/gpu_lm_head_loss.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "models/cuda/blas.h"
#include "models/cuda/column_sums.h"
#include "models/layers/cuda/lm_head_loss.h"

namespace db::cuda {

GpuLmHeadLoss::GpuLmHeadLoss(const Context& ctx, int max_row_block)
    : ctx_(ctx), max_row_block_(std::clamp(max_row_block, 1, kMaxRowBlock)) {
  loss_sum_.resize(1);
}

int GpuLmHeadLoss::row_block(int N) const {
  return static_cast<int>(std::clamp<long long>(kMaxTileFloats / std::max(N, 1), 1, max_row_block_));
}

void GpuLmHeadLoss::forward(GemmIn hidden, int64_t M, int D, GemmIn weight, const float* bias, int N,
                            const int32_t* targets, int32_t* argmax, float grad_scale) {
  M_ = M, D_ = D, N_ = N;
  hidden_ = hidden;
  has_grad_ = grad_scale != 0.f && M > 0;
  has_bias_ = bias != nullptr;
  if (M == 0) {
    blocks_ = 0;
    loss_sum_.zero(ctx_.stream());
    return;
  }
  const int block = row_block(N);
  blocks_ = static_cast<int>((M + block - 1) / block);
  float* tile = tile_.resize(static_cast<size_t>(std::min<int64_t>(M, block)) * N);
  double* row_loss = row_loss_.resize(M);
  if (has_grad_) dhidden_.resize(static_cast<size_t>(M) * D);
  // several blocks: their dW is summed here in block order (the first overwrites), dbias likewise
  const bool accumulate = has_grad_ && blocks_ > 1;
  if (accumulate) {
    dweight_.resize(static_cast<size_t>(N) * D);
    if (has_bias_) {
      dbias_.resize(N);
      dbias_.zero(ctx_.stream());
    }
  }
  // bf16 runs write dlogits as bf16 into their own tile, which both GEMMs then read as it is
  bf16* tile16 = ctx_.precision() == Precision::bf16 && has_grad_ ? tile_bf16_.resize(tile_.size()) : nullptr;
  const GemmIn dlogits = tile16 ? GemmIn(tile16) : GemmIn(tile);
  for (int blk = 0; blk < blocks_; ++blk) {
    const int64_t r0 = static_cast<int64_t>(blk) * block;
    const int rows = static_cast<int>(std::min<int64_t>(block, M - r0));
    const GemmIn h = hidden.advanced(r0 * D);                   // [rows, D]
    linear_forward(ctx_, h, weight, tile, rows, D, N);          // logits [rows, N], bias added by the kernel
    if (tile16)
      head_softmax_cross_entropy(ctx_, tile, bias, rows, N, targets + r0, argmax ? argmax + r0 : nullptr,
                                 row_loss + r0, grad_scale, tile16);
    else
      head_softmax_cross_entropy(ctx_, tile, bias, rows, N, targets + r0, argmax ? argmax + r0 : nullptr,
                                 row_loss + r0, grad_scale);
    if (!has_grad_) continue;
    linear_backward_input(ctx_, dlogits, weight, dhidden_.data() + r0 * D, rows, D, N);  // dhidden = dlogits W
    if (accumulate) {
      // dW (+)= dlogits^T h
      gemm(ctx_, true, false, N, D, rows, 1.f, dlogits, N, h, D, blk == 0 ? 0.f : 1.f, dweight_.data(), D);
      if (has_bias_) add_dlogit_column_sums(dlogits, rows, dbias_.data());
    }
  }
  sum_row_losses(ctx_, row_loss, M, loss_sum_.data());
}

const float* GpuLmHeadLoss::backward(float* dweight, float* dbias) {
  if (!has_grad_) return nullptr;
  if (blocks_ == 1) {
    // the tile still holds every row's dlogits
    const bool bf16_tile = ctx_.precision() == Precision::bf16;
    const GemmIn dlogits = bf16_tile ? GemmIn(tile_bf16_.data()) : GemmIn(tile_.data());
    linear_backward_weight(ctx_, hidden_, dlogits, dweight, static_cast<int>(M_), D_, N_);
    if (has_bias_ && dbias) add_dlogit_column_sums(dlogits, M_, dbias);
  } else {
    add_in_place(ctx_, dweight_.data(), dweight, static_cast<size_t>(N_) * D_);
    if (has_bias_ && dbias) add_in_place(ctx_, dbias_.data(), dbias, static_cast<size_t>(N_));
  }
  return dhidden_.data();
}

void GpuLmHeadLoss::add_dlogit_column_sums(GemmIn dlogits, int64_t rows, float* out) {
  if (dlogits.is_bf16)
    add_column_sums(ctx_, static_cast<const bf16*>(dlogits.data), rows, N_, out, column_scratch_);
  else
    add_column_sums(ctx_, static_cast<const float*>(dlogits.data), rows, N_, out, column_scratch_);
}

double GpuLmHeadLoss::loss_sum() const {
  double host = 0.0;
  download(loss_sum_.data(), &host, 1, ctx_.stream());
  ctx_.synchronize();
  return host;
}

void GpuLmHeadLoss::logits(const Context& ctx, GemmIn hidden, int64_t M, int D, GemmIn weight,
                           const float* bias, int N, float* out) {
  if (M > static_cast<int64_t>(std::numeric_limits<int>::max()))
    throw std::invalid_argument("GpuLmHeadLoss::logits: more rows than one GEMM takes");
  linear_forward(ctx, hidden, weight, out, static_cast<int>(M), D, N);
  if (bias) add_row_bias(ctx, out, bias, M, N);
}

}  // namespace db::cuda
