// deltaproduct.h: (Gated) DeltaProduct (Siems et al. 2025): n_h delta-rule steps per token,
// A_t = prod_j (I - beta_j k_j k_j^T), run as the gated delta-rule kernel on the n_h-interleaved
// sequence (fla's GatedDeltaProduct). The forget gate is optional; eigen_range [-1, 1] by default.
#pragma once

#include "models/core/registry.h"
#include "models/mixers/delta_family.h"

namespace db {

class DeltaProductMixer : public DeltaFamilyMixer {
 public:
  DeltaProductMixer(int d_model, const Options& options, ParamArena& arena);
  static Settings defaults();
};

extern const MixerEntry deltaproduct_mixer_entry;

}  // namespace db
