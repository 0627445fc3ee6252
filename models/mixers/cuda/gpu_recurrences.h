// gpu_recurrences.h: the two recurrences the GPU projected-recurrence layer runs, as the CPU
// subclasses choose them: the gated delta rule (DeltaNet, Gated DeltaNet, DeltaProduct) and the
// additive update with an optional gate (linear attention, gated linear attention).
#pragma once

#include "models/kernels/cuda/gated_delta_rule.h"
#include "models/kernels/cuda/linear_attention.h"
#include "models/mixers/cuda/gpu_projected_recurrence_layer.h"

namespace db::cuda {

class GpuDeltaRuleLayer : public GpuProjectedRecurrenceLayer {
 public:
  using GpuProjectedRecurrenceLayer::GpuProjectedRecurrenceLayer;

 protected:
  void recurrence_forward(const Sequences& s) override;
  void recurrence_backward(const Sequences& s, const SequenceGrads& g) override;

 private:
  GpuDeltaRuleWorkspace ws_;
};

// beta is not used: the transition is the identity (times the gate), S = e^g S + k v^T
class GpuAdditiveRecurrenceLayer : public GpuProjectedRecurrenceLayer {
 public:
  using GpuProjectedRecurrenceLayer::GpuProjectedRecurrenceLayer;

 protected:
  void recurrence_forward(const Sequences& s) override;
  void recurrence_backward(const Sequences& s, const SequenceGrads& g) override;

 private:
  GpuLinearAttentionWorkspace ws_;
};

}  // namespace db::cuda
