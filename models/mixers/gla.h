// gla.h: gated linear attention (Yang et al. 2024, "Gated Linear Attention Transformers with
// Hardware-Efficient Training"), as fla/layers/gla.py defines the layer.
//
//   q = q_proj x, k = k_proj x, v = v_proj x           [H*K], [H*K], [H*V]; K = d_model expand_k / H
//   gk = logsigmoid(gk_proj x) / gate_logit_normalizer  [H*K], gk_proj = Linear(D, r) then Linear(r, H*K, bias)
//   per head: S_t = diag(exp(gk_t)) S_{t-1} + k_t v_t^T,  o_t = S_t^T (K^-1/2 q_t),  S [K, V]
//   y = o_proj( RMSNorm_head(o) * SiLU(g_proj x) )
// The decay is per key channel and data-dependent; logsigmoid keeps it in (-inf, 0] and the
// normaliser (16) pulls it towards 1, so that at init (bias 0) every channel keeps about
// exp(-log 2 / 16) = 0.96 of its state per token.
//
// Defaults are fla's: num_heads 4, expand_k 0.5, expand_v 1, gate_low_rank_dim 16,
// gate_logit_normalizer 16, output gate on (swish), short conv off (conv 4 when on), no feature map,
// norm_eps 1e-5, mode chunk. Not offered: fla's feature_map (default none), clamp_min (default
// none), num_kv_heads (default = num_heads), conv_bias (default off), elementwise_affine (on).
// Zoology's MQAR configs (zoology/experiments/models_repo.py add_gla) use num_heads 2, no short conv.
// Parameter names are fla's (q_proj, k_proj, v_proj, gk_proj.0, gk_proj.1, g_proj,
// g_norm_swish_gate, o_proj).
//
// Both forms (option mode): the token-by-token reference and the chunkwise kernel with pairwise
// decays exp(b_i - b_j) from within-chunk cumulative log decays (models/kernels/
// diagonal_decay_attention.h). Reported state size: Zoology's (zoology/mixers/gla.py state_size),
// H*K*V plus, with the short conv, conv_size * channels of each of the q, k, v convs.
#pragma once

#include <memory>

#include "models/core/registry.h"
#include "models/mixers/diagonal_decay_layer.h"

namespace db {

class GlaMixer : public DiagonalDecayLayer {
 public:
  GlaMixer(int d_model, const Options& options, ParamArena& arena);
  static OptionSpecs option_specs();

 protected:
  void decay_forward(const real* x, Index rows, real* g) override;
  bool decay_learned() const override { return true; }
  void decay_backward(const real* x, const real* dg, real* dx, Index rows) override;

 private:
  real normalizer_;
  std::unique_ptr<Linear> gk_down_, gk_up_;  // gk_proj.0 [r, D], gk_proj.1 [H*K, r] + bias
  RealVector low_;   // [rows, r] gk_proj.0 x
  RealVector z_;     // [rows, H*K] gk_proj x (logits)
  RealVector dz_;    // [rows, H*K]
  RealVector dlow_;  // [rows, r]
};

extern const MixerEntry gla_mixer_entry;

}  // namespace db
