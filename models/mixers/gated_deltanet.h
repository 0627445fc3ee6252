// gated_deltanet.h: Gated DeltaNet (Yang, Kautz, Hatamizadeh 2025): DeltaNet with a scalar forget
// gate per head and token, S_t = exp(g_t) (I - beta k k^T) S_{t-1} + beta k v^T with
// g = -exp(A_log) softplus(a_proj x + dt_bias), and an output gate, as fla's GatedDeltaNet.
#pragma once

#include "models/core/registry.h"
#include "models/mixers/projected_recurrence_layer.h"

namespace db {

class GatedDeltaNetMixer : public ProjectedRecurrenceLayer {
 public:
  GatedDeltaNetMixer(int d_model, const Options& options, ParamArena& arena);
  // learned beta and eigenvalue range, kernel, and the forget gate (on by default); n_h = 1
  static Declaration declaration();
};

extern const MixerEntry gated_deltanet_mixer_entry;

}  // namespace db
