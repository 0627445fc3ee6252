// linear_attention.h: the DeltaNet layer with the additive update S_t = S_{t-1} + k_t v_t^T in
// place of the delta rule: the clean ablation of what the delta rule adds (same projections,
// short conv, L2-normalised q/k, output norm; no beta).
#pragma once

#include "models/core/registry.h"
#include "models/mixers/projected_recurrence_layer.h"

namespace db {

class LinearAttentionMixer : public ProjectedRecurrenceLayer {
 public:
  LinearAttentionMixer(int d_model, const Options& options, ParamArena& arena);
  // the choice of kernel only: no beta (the transition is the identity), no forget gate
  static Declaration declaration();

 protected:
  void prepare_recurrence(int sequences) override { la_ws_.resize(sequences); }
  void run_recurrence_forward(const HeadSequence& s) override;
  void run_recurrence_backward(const HeadSequence& s, const HeadSequenceGrads& g) override;

 private:
  std::vector<LinearAttentionWorkspace> la_ws_;  // [B*H]
};

extern const MixerEntry linear_attention_mixer_entry;

}  // namespace db
