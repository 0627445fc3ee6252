// gpu_recurrences.h: the two recurrences the GPU projected-recurrence layer runs, as the CPU
// subclasses choose them: the gated delta rule (DeltaNet, Gated DeltaNet, DeltaProduct) and the
// additive update with an optional gate (linear attention, gated linear attention).
#pragma once

#include <memory>
#include <string>
#include <utility>

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

// the GPU layer's limit on the settings: a short convolution of at most kMaxShortConvTaps taps
void check_gpu_settings(const ProjectedRecurrenceLayer::Settings& settings);

// The CUDA half of a mixer built on ProjectedRecurrenceLayer: the settings CpuMixer's declaration reads
// from the resolved options, on the GPU layer Layer (one of the two above).
template <class CpuMixer, class Layer>
GpuMixerEntry projected_recurrence_gpu_entry(std::string name) {
  return {std::move(name),
          [](const Context& ctx, int d_model, const Options& options, const ParamScope& params) -> std::unique_ptr<GpuModule> {
            return std::make_unique<Layer>(ctx, d_model, ProjectedRecurrenceLayer::settings_from(options, CpuMixer::declaration()),
                                           params);
          },
          [](const OptionOverrides& given) {
            const auto declaration = CpuMixer::declaration();
            const Options options = Options::resolve(ProjectedRecurrenceLayer::option_specs(declaration), given);
            check_gpu_settings(ProjectedRecurrenceLayer::settings_from(options, declaration));
          }};
}

}  // namespace db::cuda
