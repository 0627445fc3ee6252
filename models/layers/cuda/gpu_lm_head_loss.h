// gpu_lm_head_loss.h: the LM head and cross-entropy at labelled rows on the GPU, the twin of
// db::LmHeadLoss (models/layers/lm_head_loss.h) with the same forward / backward contract.
//
// Rows go through in blocks so the [rows, N] logits tile stays bounded at any vocabulary: per block
// one GEMM for the logits, one kernel for loss, argmax and dlogits (in place; in bf16 runs into a
// bf16 tile that the GEMMs read as it is), one GEMM for dhidden.
// The weight gradient is kept for backward(), as on the CPU: with one block the dlogits tile itself
// is kept and backward() adds dlogits^T hidden straight into dW; with several, forward accumulates
// the blocks into a private [N, D] buffer in block order and backward() adds that. The block size
// depends on N alone, so a shape always takes the same path and gets the same bits. The loss sum
// stays on the device (loss_sum_device) so a step needs no host read.
// Shapes: M labelled rows, D width, N vocabulary.
#pragma once

#include <cstdint>

#include "models/cuda/blas.h"
#include "models/cuda/runtime.h"

namespace db::cuda {

class GpuLmHeadLoss {
 public:
  // rows per block: at most kMaxRowBlock, and at most kMaxTileFloats / N so the tile stays bounded.
  // Large, because cuBLAS runs the logits GEMM (K = D, small) faster on more rows: at D 128,
  // N 8192 it reaches 35.8 TFLOP/s on 16384 rows against 33.0 on 4096 (bench_gpu_linear_layouts).
  static constexpr int kMaxRowBlock = 16384;
  static constexpr long long kMaxTileFloats = 1LL << 27;  // 512 MiB of fp32 logits

  // max_row_block below kMaxRowBlock forces smaller blocks (tests use it to cover several blocks)
  explicit GpuLmHeadLoss(const Context& ctx, int max_row_block = kMaxRowBlock);

  // hidden [M, D], weight [N, D] (fp32 or bf16: blas.h), bias [N] or null, targets [M] in [0, N),
  // all on the device; hidden and weight must stay unchanged until backward(). Writes the summed cross-entropy to
  // loss_sum_device() and argmax [M] if non-null. When grad_scale != 0 the gradient of
  // grad_scale * sum(loss) is prepared for backward(): dhidden [M, D] and dW [N, D] (and dbias).
  void forward(GemmIn hidden, int64_t M, int D, GemmIn weight, const float* bias, int N,
               const int32_t* targets, int32_t* argmax, float grad_scale);
  // adds the prepared dW into dweight [N, D] and dbias [N] (if non-null); returns dhidden [M, D]
  // (null when forward had no gradient or M was 0)
  const float* backward(float* dweight, float* dbias);

  // the summed loss of the last forward, on the device (double, as the CPU's sum)
  const double* loss_sum_device() const { return loss_sum_.data(); }
  // the same, downloaded; synchronises the stream
  double loss_sum() const;
  // per-row losses [M] of the last forward (double)
  const double* row_losses_device() const { return row_loss_.data(); }

  // rows per block for vocabulary N
  int row_block(int N) const;

  // logits for all rows (used by `deltabench forward`): hidden [M, D] -> out [M, N]
  static void logits(const Context& ctx, GemmIn hidden, int64_t M, int D, GemmIn weight,
                     const float* bias, int N, float* out);

 private:
  // out [N] += the column sums of dlogits [rows, N], fp32 or bf16
  void add_dlogit_column_sums(GemmIn dlogits, int64_t rows, float* out);

  const Context& ctx_;
  int max_row_block_;
  int64_t M_ = 0;
  int D_ = 0, N_ = 0;
  int blocks_ = 0;
  bool has_grad_ = false, has_bias_ = false;
  GemmIn hidden_ = static_cast<const float*>(nullptr);  // kept for the one-block backward
  DeviceBuffer<float> tile_;        // [row block, N] logits, then dlogits (fp32 runs)
  DeviceBuffer<bf16> tile_bf16_;    // [row block, N] dlogits (bf16 runs)
  DeviceBuffer<double> row_loss_;   // [M]
  DeviceBuffer<double> loss_sum_;   // [1]
  DeviceBuffer<float> dhidden_;     // [M, D]
  DeviceBuffer<float> dweight_;     // [N, D] the blocks' dW, when there are several
  DeviceBuffer<float> dbias_;       // [N] likewise
  DeviceBuffer<float> column_scratch_;
};

}  // namespace db::cuda
