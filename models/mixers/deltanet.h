// deltanet.h: DeltaNet (Yang et al. 2024): S_t = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T.
// eigen_range [0, 1] uses beta = sigmoid; [-1, 1] uses beta = 2 sigmoid (Grazzi et al. 2025).
#pragma once

#include "models/core/registry.h"
#include "models/mixers/projected_recurrence_layer.h"

namespace db {

class DeltaNetMixer : public ProjectedRecurrenceLayer {
 public:
  DeltaNetMixer(int d_model, const Options& options, ParamArena& arena);
  // learned beta with its eigenvalue range, and the choice of kernel; no forget gate, n_h = 1
  static Declaration declaration();
};

extern const MixerEntry deltanet_mixer_entry;

}  // namespace db
