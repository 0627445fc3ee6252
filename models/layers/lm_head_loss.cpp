// lm_head_loss.cpp: blocked head + cross-entropy at labelled positions (see lm_head_loss.h).
#include "models/layers/lm_head_loss.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "models/numerics/gemm.h"
#include "models/numerics/parallel.h"

namespace db {

namespace {
constexpr int64_t kRowBlock = 128;
// dW partials kept at once: enough groups to spread over a 16-core node, few enough that summing
// the [N, D] partials stays a small part of the step
constexpr int64_t kMaxPartials = 16;
}  // namespace

void LmHeadLoss::logits(const real* hidden, int64_t M, int D, const real* weight, const real* bias, int N,
                        real* out) {
  gemm_nt(hidden, weight, out, M, N, D);
  if (bias) MatMap(out, M, N).rowwise() += ConstVecMap(bias, N).transpose();
}

double LmHeadLoss::forward(const real* hidden, int64_t M, int D, const real* weight, const real* bias, int N,
                           const int32_t* targets, int32_t* argmax, real grad_scale) {
  M_ = M, D_ = D, N_ = N;
  has_grad_ = grad_scale != real(0);
  const int64_t blocks = num_blocks(M, kRowBlock);
  const int64_t groups = std::min(blocks, kMaxPartials);
  // a tile is scratch that never outlives a block, so one per thread suffices whatever the grouping
  const int tiles = static_cast<int>(std::min<int64_t>(groups, omp_get_max_threads()));
  if (static_cast<int>(tile_.size()) < tiles) tile_.resize(tiles), stats_.resize(tiles);
  if (has_grad_) {
    dhidden_.resize(static_cast<size_t>(M) * D);
    dweight_part_.resize(groups);  // each zeroed by the thread that fills it
    dbias_part_.resize(groups);
  }
  std::vector<double> block_loss(blocks, 0.0);

  // group g owns row blocks [g * blocks / groups, (g + 1) * blocks / groups). A block's logits are
  // kept transposed, vocabulary-major: zt [N, rows] = W h^T, so each of the three products packs
  // only the block's small [rows, D] operand and streams the [N, D] weight once per block (packing
  // costs Eigen a pass over the operand on every call); the softmax then runs down columns,
  // vectorised across rows.
  auto run_group = [&](int64_t g, RealVector& tile, RealVector& column_stats) {
    tile.resize(static_cast<size_t>(kRowBlock) * N);
    column_stats.resize(2 * static_cast<size_t>(kRowBlock));
    if (has_grad_) {
      dweight_part_[g].assign(static_cast<size_t>(N) * D, real(0));
      if (bias) dbias_part_[g].assign(N, real(0));
    }
    for (int64_t blk = g * blocks / groups; blk < (g + 1) * blocks / groups; ++blk) {
      const int64_t r0 = blk * kRowBlock, rows = std::min(kRowBlock, M - r0);
      const real* h = hidden + r0 * D;             // [rows, D]
      gemm_nt(weight, h, tile.data(), N, rows, D);  // logits^T [N, rows]
      MatMap zt(tile.data(), N, rows);             // logits, then probabilities, then dlogits (transposed)
      if (bias) zt.colwise() += ConstVecMap(bias, N);
      // per row of the block (a column here): the largest logit and its first index
      auto zmax = VecMap(column_stats.data(), rows);
      zmax = zt.row(0).transpose();
      int32_t best[kRowBlock] = {};
      for (int n = 1; n < N; ++n) {
        const real* zn = tile.data() + int64_t(n) * rows;
        for (int64_t r = 0; r < rows; ++r)
          if (zn[r] > zmax(r)) zmax(r) = zn[r], best[r] = n;
      }
      double loss = 0.0;
      for (int64_t r = 0; r < rows; ++r) {
        if (argmax) argmax[r0 + r] = best[r];
        loss -= static_cast<double>(zt(targets[r0 + r], r) - zmax(r));
      }
      // Eigen's vectorised exp: the softmax over N is the only non-GEMM work of the head
      zt.array().rowwise() -= zmax.transpose().array();
      zt = zt.array().exp().matrix();
      // each row's softmax denominator, summed down its column in double: N terms added one after
      // another in float would lose up to ~N ulps, and every gradient of the row scales with it
      double denominator[kRowBlock] = {};
      for (int n = 0; n < N; ++n) {
        const real* zn = tile.data() + int64_t(n) * rows;
        for (int64_t r = 0; r < rows; ++r) denominator[r] += static_cast<double>(zn[r]);
      }
      for (int64_t r = 0; r < rows; ++r) loss += std::log(denominator[r]);
      block_loss[blk] = loss;
      if (!has_grad_) continue;
      // dlogits = grad_scale (softmax - onehot(target)), column by column
      auto column_scale = VecMap(column_stats.data() + kRowBlock, rows);
      for (int64_t r = 0; r < rows; ++r) column_scale(r) = static_cast<real>(grad_scale / denominator[r]);
      zt.array().rowwise() *= column_scale.transpose().array();
      for (int64_t r = 0; r < rows; ++r) zt(targets[r0 + r], r) -= grad_scale;
      gemm_tn(tile.data(), weight, dhidden_.data() + r0 * D, rows, D, N);                 // dhidden = z W
      gemm_nn(tile.data(), h, dweight_part_[g].data(), N, D, rows, /*accumulate=*/true);  // dW += z^T h
      if (bias) VecMap(dbias_part_[g].data(), N) += zt.rowwise().sum();
    }
  };
  // small heads (a few labelled rows) stay on the calling thread: forking would cost more than the work
  if (worth_a_parallel_region(groups, M * N * D)) {
#pragma omp parallel for schedule(static) num_threads(tiles)
    for (int64_t g = 0; g < groups; ++g) run_group(g, tile_[omp_get_thread_num()], stats_[omp_get_thread_num()]);
  } else {
    for (int64_t g = 0; g < groups; ++g) run_group(g, tile_[0], stats_[0]);
  }
  double total = 0.0;
  for (double l : block_loss) total += l;
  return total;
}

const real* LmHeadLoss::backward(real* dweight, real* dbias) {
  if (!has_grad_) return nullptr;
  // sum the per-group partials in group order; split over the weight rows
  parallel_blocks(N_, 64, int64_t(N_) * D_ * static_cast<int64_t>(dweight_part_.size()), [&](Index r0, Index r1) {
    for (Index row = r0; row < r1; ++row)
      for (const auto& part : dweight_part_)
        for (int d = 0; d < D_; ++d) dweight[row * D_ + d] += part[row * D_ + d];
  });
  if (dbias)
    for (const auto& part : dbias_part_)
      for (int j = 0; j < N_; ++j) dbias[j] += part[j];
  return dhidden_.data();
}

}  // namespace db
