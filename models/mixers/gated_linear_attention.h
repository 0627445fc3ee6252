// gated_linear_attention.h: Mamba2-style scalar-gated linear attention, the worked example of
// docs/adding-a-mixer.md.
//
//   S_t = exp(g_t) S_{t-1} + k_t v_t^T,   o_t = S_t^T (scale q_t),   g_t = -exp(A_log) softplus(a_t + dt_bias)
//
// It is built on ProjectedRecurrenceLayer (projections, short conv, L2-normalised q/k, forget gate,
// output norm) and brings its own recurrence by overriding run_recurrence_forward/backward: a
// plain token-by-token loop that keeps every state S_t for the backward (T*K*V numbers per
// sequence; fine at benchmark sizes, and the simplest correct form to start a variant from).
#pragma once

#include <vector>

#include "models/core/registry.h"
#include "models/mixers/projected_recurrence_layer.h"

namespace db {

class GatedLinearAttentionMixer : public ProjectedRecurrenceLayer {
 public:
  GatedLinearAttentionMixer(int d_model, const Options& options, ParamArena& arena);
  // no option groups: beta fixed at 1, the forget gate always on, one (token-by-token) form
  static Declaration declaration();

 protected:
  void prepare_recurrence(int sequences) override { states_.resize(sequences); }
  void run_recurrence_forward(const HeadSequence& s) override;
  void run_recurrence_backward(const HeadSequence& s, const HeadSequenceGrads& g) override;

 private:
  std::vector<RealVector> states_;  // per sequence [T+1, K, V]: S_0 = h0, then S_1..S_T
};

extern const MixerEntry gated_linear_attention_mixer_entry;

}  // namespace db
