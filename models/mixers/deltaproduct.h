// deltaproduct.h: (Gated) DeltaProduct (Siems et al. 2025): n_h delta-rule steps per token,
// A_t = prod_j (I - beta_j k_j k_j^T), run as the gated delta-rule kernel on the n_h-interleaved
// sequence (fla's GatedDeltaProduct). The forget gate is optional; eigen_range [-1, 1] by default.
#pragma once

#include "models/core/registry.h"
#include "models/mixers/projected_recurrence_layer.h"

namespace db {

class DeltaProductMixer : public ProjectedRecurrenceLayer {
 public:
  DeltaProductMixer(int d_model, const Options& options, ParamArena& arena);
  // every option group: learned beta and eigenvalue range, kernel, forget gate, Householder steps
  static Declaration declaration();
};

extern const MixerEntry deltaproduct_mixer_entry;

}  // namespace db
