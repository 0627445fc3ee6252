// gated_linear_attention.h: Mamba2-style scalar-gated linear attention, the worked example of
// docs/adding-a-mixer.md.
//
//   S_t = exp(g_t) S_{t-1} + k_t v_t^T,   o_t = S_t^T (scale q_t),   g_t = -exp(A_log) softplus(a_t + dt_bias)
//
// It reuses the delta-family scaffold (projections, short conv, L2-normalised q/k, forget gate,
// output norm) and brings its own recurrence by overriding run_recurrence_forward/backward: a
// plain token-by-token loop that keeps every state S_t for the backward (T*K*V numbers per
// sequence; fine at benchmark sizes, and the simplest correct form to start a variant from).
#pragma once

#include <vector>

#include "models/core/registry.h"
#include "models/mixers/delta_family.h"

namespace db {

class GatedLinearAttentionMixer : public DeltaFamilyMixer {
 public:
  GatedLinearAttentionMixer(int d_model, const Options& options, ParamArena& arena);
  static Settings defaults();
  static OptionSpecs specs();

 protected:
  void prepare_recurrence(int sequences) override { states_.resize(sequences); }
  void run_recurrence_forward(const HeadSequence& s) override;
  void run_recurrence_backward(const HeadSequence& s, const HeadSequenceGrads& g) override;

 private:
  std::vector<RealVector> states_;  // per sequence [T+1, K, V]: S_0 = h0, then S_1..S_T
};

extern const MixerEntry gated_linear_attention_mixer_entry;

}  // namespace db
