// lm_head_loss.h: the LM head and cross-entropy, evaluated only at labelled positions.
//
// MQAR labels a handful of positions per sequence and the state-tracking tasks one, so the model
// gathers the final hidden rows that have a target ([M, D], M << B*T) and only those reach the
// [N, D] head. Logits are never stored whole: rows go through in blocks (logits, log-softmax, the
// gradient of the mean loss, dhidden = dlogits W, dW += dlogits^T h), which bounds memory at any
// vocabulary and keeps each block's [N, block] tile of logits (vocabulary-major) near the cores.
// The gradient is computed in the same pass as the loss (the head is the last op), kept, and added
// into the parameter gradients by backward(). Row blocks are grouped into at most kMaxPartials
// groups by a rule that looks only at M; each group owns a dW partial, groups are spread over
// threads, and partials are summed in group order, so every thread count gives the same bits.
#pragma once

#include <cstdint>
#include <vector>

#include "models/core/types.h"

namespace db {

class LmHeadLoss {
 public:
  // hidden [M, D], weight [N, D], bias [N] or null, targets [M] in [0, N).
  // Returns the summed cross-entropy; writes argmax [M] if non-null. When grad_scale != 0 the
  // gradient of grad_scale * sum(loss) is prepared for backward(): dhidden [M, D] and dW [N, D].
  double forward(const real* hidden, int64_t M, int D, const real* weight, const real* bias, int N,
                 const int32_t* targets, int32_t* argmax, real grad_scale);
  // adds the prepared dW into dweight [N, D] and dbias [N] (if non-null); returns dhidden [M, D]
  const real* backward(real* dweight, real* dbias);

  // logits for all rows (used by `deltabench forward`): hidden [M, D] -> logits [M, N]
  static void logits(const real* hidden, int64_t M, int D, const real* weight, const real* bias, int N,
                     real* out);

 private:
  int64_t M_ = 0;
  int D_ = 0, N_ = 0;
  bool has_grad_ = false;
  RealVector dhidden_;                   // [M, D]
  std::vector<RealVector> dweight_part_;  // per group [N, D]
  std::vector<RealVector> dbias_part_;    // per group [N]
  std::vector<RealVector> tile_;          // per thread [N, block]: a block's logits, transposed
  std::vector<RealVector> stats_;         // per thread [2, block]: largest logit, gradient scale per row
};

}  // namespace db
