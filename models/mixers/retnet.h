// retnet.h: multi-scale retention (Sun et al. 2023, "Retentive Network"), as
// fla/layers/multiscale_retention.py defines the layer.
//
//   q = RoPE(q_proj x), k = RoPE(k_proj x), v = v_proj x   [H*K], [H*K], [H*V]; K = d_model expand_k / H
//   per head h: S_t = gamma_h S_{t-1} + k_t v_t^T,  o_t = S_t^T (K^-1/2 q_t),  S [K, V]
//   gamma_h = 1 - 2^(-5-h), h = 0 .. H-1              (fixed, not learned; fla/ops/retention)
//   y = o_proj( RMSNorm_head(o) * SiLU(g_proj x) )
// so o_t = K^-1/2 sum_{s<=t} gamma_h^(t-s) (R_t q_t . R_s k_s) v_s: the rotation makes the
// score depend on t - s only. No L2 norm and no activation on q and k (fla's feature_map is none).
// The paper's GroupNorm is fla's per-head RMSNorm here, as in fla.
//
// Built on DiagonalDecayLayer with the decay log(gamma_h) in every key channel of head h (the same
// kernel as GLA; the decay has no gradient). RoPE is fla's RotaryEmbedding(head_k_dim): half-split
// rotation, base 10000, positions continuing across calls through the carried state (the layer
// stores the next position as the state's last number).
//
// Defaults are fla's: num_heads 8, expand_k 1, expand_v 2, output gate on (swish), short conv off
// (conv 4 when on), norm_eps 1e-5, mode chunk. Not offered: feature_map, num_kv_heads, conv_bias.
// Both forms (option mode). Reported state size: H*K*V (+ conv_size * channels of each short conv),
// counted as Zoology counts GLA; Zoology has no retention mixer. The position number is not counted.
#pragma once

#include "models/core/registry.h"
#include "models/mixers/diagonal_decay_layer.h"

namespace db {

class RetNetMixer : public DiagonalDecayLayer {
 public:
  RetNetMixer(int d_model, const Options& options, ParamArena& arena);
  static OptionSpecs option_specs();
  // gamma_h = 1 - 2^(-5-h), the fixed decay of head h
  static double decay(int head);

 protected:
  void decay_forward(const real* x, Index rows, real* g) override;
  bool decay_learned() const override { return false; }
};

extern const MixerEntry retnet_mixer_entry;

}  // namespace db
