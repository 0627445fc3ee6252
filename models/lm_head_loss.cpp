// lm_head_loss.cpp: blocked head + cross-entropy at labelled positions (see lm_head_loss.h).
#include "models/lm_head_loss.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

namespace db {

namespace {
constexpr int64_t kRowBlock = 128;
}

void LmHeadLoss::logits(const real* hidden, int64_t M, int D, const real* weight, const real* bias, int N,
                        real* out) {
  MatMap y(out, M, N);
  y.noalias() = as_matrix(hidden, M, D) * as_matrix(weight, N, D).transpose();
  if (bias) y.rowwise() += ConstVecMap(bias, N).transpose();
}

double LmHeadLoss::forward(const real* hidden, int64_t M, int D, const real* weight, const real* bias, int N,
                           const int32_t* targets, int32_t* argmax, real grad_scale) {
  M_ = M, D_ = D, N_ = N;
  has_grad_ = grad_scale != real(0);
  // small heads (a few labelled rows) run on one thread: forking would cost more than the work
  const int64_t blocks = (M + kRowBlock - 1) / kRowBlock;
  const int threads = blocks > 1 && M * N * D >= (int64_t(1) << 20) ? std::min<int>(omp_get_max_threads(), blocks) : 1;
  if (static_cast<int>(tile_.size()) < threads) tile_.resize(threads);
  if (has_grad_) {
    dhidden_.resize(static_cast<size_t>(M) * D);
    dweight_part_.resize(threads);
    dbias_part_.resize(threads);
    for (int t = 0; t < threads; ++t) {
      dweight_part_[t].assign(static_cast<size_t>(N) * D, real(0));
      if (bias) dbias_part_[t].assign(N, real(0));
    }
  }
  std::vector<double> block_loss(blocks, 0.0);
  ConstMatMap W(weight, N, D);

#pragma omp parallel num_threads(threads)
  {
    const int tid = omp_get_thread_num();
    auto& tile = tile_[tid];
    tile.resize(static_cast<size_t>(kRowBlock) * N);
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t r0 = blk * kRowBlock, rows = std::min(kRowBlock, M - r0);
      ConstMatMap h(hidden + r0 * D, rows, D);
      MatMap z(tile.data(), rows, N);  // logits, then probabilities, then dlogits
      z.noalias() = h * W.transpose();
      if (bias) z.rowwise() += ConstVecMap(bias, N).transpose();
      double loss = 0.0;
      for (int64_t r = 0; r < rows; ++r) {
        auto zr = z.row(r).array();
        Index best = 0;
        const real zmax = z.row(r).maxCoeff(&best);
        if (argmax) argmax[r0 + r] = static_cast<int32_t>(best);
        const int32_t y = targets[r0 + r];
        const real target_logit = zr(y);
        // Eigen's vectorised exp: the softmax over N is the only non-GEMM work of the head
        zr = (zr - zmax).exp();
        const double sum = static_cast<double>(zr.sum());
        loss += std::log(sum) - static_cast<double>(target_logit - zmax);
        if (has_grad_) {
          zr *= static_cast<real>(grad_scale / sum);
          zr(y) -= grad_scale;
        }
      }
      block_loss[blk] = loss;
      if (has_grad_) {
        MatMap(dhidden_.data() + r0 * D, rows, D).noalias() = z * W;
        MatMap(dweight_part_[tid].data(), N, D).noalias() += z.transpose() * h;
        if (bias) VecMap(dbias_part_[tid].data(), N) += z.colwise().sum().transpose();
      }
    }
  }
  double total = 0.0;
  for (double l : block_loss) total += l;
  return total;
}

const real* LmHeadLoss::backward(real* dweight, real* dbias) {
  if (!has_grad_) return nullptr;
  // sum the per-thread partials in thread order; split over the weight rows
#pragma omp parallel for schedule(static) if (int64_t(N_) * D_ >= 65536)
  for (int64_t row = 0; row < N_; ++row)
    for (const auto& part : dweight_part_)
      for (int d = 0; d < D_; ++d) dweight[row * D_ + d] += part[row * D_ + d];
  if (dbias)
    for (const auto& part : dbias_part_)
      for (int j = 0; j < N_; ++j) dbias[j] += part[j];
  return dhidden_.data();
}

}  // namespace db
