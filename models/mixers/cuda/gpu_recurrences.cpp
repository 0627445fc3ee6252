// gpu_recurrences.cpp: the recurrences of the GPU projected-recurrence layer (see the header).
#include "models/mixers/cuda/gpu_recurrences.h"

#include <fmt/format.h>

#include <stdexcept>

#include "common/options.h"
#include "models/layers/cuda/short_conv.h"

namespace db::cuda {

void check_gpu_settings(const ProjectedRecurrenceLayer::Settings& settings) {
  if (settings.short_conv && settings.conv_size > kMaxShortConvTaps)
    throw ConfigError("conv_size", fmt::format("conv_size {} is above the {} taps the GPU's short convolution takes; "
                                               "use a smaller conv_size or train it with device: cpu",
                                               settings.conv_size, kMaxShortConvTaps));
}

void GpuDeltaRuleLayer::recurrence_forward(const Sequences& s) {
  GpuDeltaRuleInputs in;
  in.S = s.S, in.T = s.T, in.K = s.K, in.V = s.V, in.n_h = s.n_h;
  in.q = s.q, in.k = s.k, in.v = s.v, in.beta = s.beta, in.g = s.g;
  gated_delta_rule_forward(ctx(), in, s.o, nullptr, ws_);
}

void GpuDeltaRuleLayer::recurrence_backward(const Sequences& s, const SequenceGrads& g) {
  GpuDeltaRuleInputs in;
  in.S = s.S, in.T = s.T, in.K = s.K, in.V = s.V, in.n_h = s.n_h;
  in.q = s.q, in.k = s.k, in.v = s.v, in.beta = s.beta, in.g = s.g;
  GpuDeltaRuleGrads grads;
  grads.dq = g.dq, grads.dk = g.dk, grads.dv = g.dv, grads.dbeta = g.dbeta, grads.dg = g.dg;
  gated_delta_rule_backward(ctx(), in, g.d_o, nullptr, grads, ws_);
}

void GpuAdditiveRecurrenceLayer::recurrence_forward(const Sequences& s) {
  if (s.n_h != 1) throw std::logic_error("GpuAdditiveRecurrenceLayer: one sub-step per token only");
  GpuLinearAttentionInputs in;
  in.S = s.S, in.T = s.T, in.K = s.K, in.V = s.V;
  in.q = s.q, in.k = s.k, in.v = s.v, in.g = s.g;
  linear_attention_forward(ctx(), in, s.o, nullptr, ws_);
}

void GpuAdditiveRecurrenceLayer::recurrence_backward(const Sequences& s, const SequenceGrads& g) {
  GpuLinearAttentionInputs in;
  in.S = s.S, in.T = s.T, in.K = s.K, in.V = s.V;
  in.q = s.q, in.k = s.k, in.v = s.v, in.g = s.g;
  GpuLinearAttentionGrads grads;
  grads.dq = g.dq, grads.dk = g.dk, grads.dv = g.dv, grads.dg = g.dg;
  linear_attention_backward(ctx(), in, g.d_o, nullptr, grads, ws_);
}

}  // namespace db::cuda
