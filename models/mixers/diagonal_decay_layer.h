// diagonal_decay_layer.h: DiagonalDecayLayer, the flash-linear-attention layer shared by gated linear
// attention (fla/layers/gla.py) and multi-scale retention (fla/layers/multiscale_retention.py).
//
//   q = q_proj x [conv], k = k_proj x [conv], v = v_proj x [conv]   (optional causal conv + SiLU;
//                                                                    no activation without it)
//   q, k rotated by RoPE (RetNet only)
//   g = log decay per key channel, [rows, H*K], <= 0, from the subclass (decay_forward)
//   per (batch, head):  S_t = diag(exp(g_t)) S_{t-1} + k_t v_t^T,   o_t = S_t^T (K^-1/2 q_t)
//   y = o_proj( RMSNorm_head(o) [* SiLU(g_proj x)] )
// K = d_model * expand_k / H and V = d_model * expand_v / H per head (fla's key_dim / value_dim
// split over heads). No L2 norm of q and k, no write strength: this is what separates the layer
// from ProjectedRecurrenceLayer (whose q/k are L2-normalised, pass through SiLU even without the
// conv, and whose decay is one scalar per head); sharing that class would have meant switches for
// each of those, so these two mixers get their own, smaller layer.
//
// The recurrence is models/kernels/diagonal_decay_attention.h, recurrent or chunkwise (option
// `mode`). Sequences (batch x head) run in parallel with OpenMP, each on its own workspace;
// parameter gradients only come from Linear, ShortConv and HeadNorm, which reduce in fixed order.
//
// Carried state per sequence (state_size()): [H, K, V] matrices, then the q, k, v conv tails
// ([(W-1) * channels] each, with the conv), then, with RoPE, one number: the position of the
// sequence's next token (fla passes the same offset to its rotary embedding from the cache). It
// is stored as a real (exact up to 2^24 in float) and read back rounded and clamped at 0; its
// gradient is zero. Without it a split run would rotate the second half from position 0.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "common/options.h"
#include "models/core/module.h"
#include "models/core/params.h"
#include "models/kernels/diagonal_decay_attention.h"
#include "models/layers/head_norm.h"
#include "models/layers/linear.h"
#include "models/layers/rope.h"
#include "models/layers/short_conv.h"

namespace db {

class DiagonalDecayLayer : public Mixer {
 public:
  struct Settings {
    int num_heads = 4;        // H
    double expand_k = 0.5;    // H*K = d_model * expand_k
    double expand_v = 1.0;    // H*V = d_model * expand_v
    bool output_gate = true;  // RMSNorm(o) * SiLU(g_proj x)
    bool short_conv = false;
    int conv_size = 4;
    bool rope = false;        // not a key: RetNet always has it, GLA never
    double rope_base = 10000.0;
    bool chunked = true;      // chunkwise kernel; false = token-by-token reference
    int chunk_size = 64;
    double norm_eps = 1e-5;   // fla's default for these two layers
    double init_std = 0.02;
  };

  // the keys every mixer on this layer has, with `defaults` as their defaults
  static OptionSpecs option_specs(const Settings& defaults);
  // `defaults` with those keys read from resolved options; throws ConfigError for bad values
  static Settings settings_from(const Options& options, Settings defaults);

  DiagonalDecayLayer(int d_model, const Settings& settings, ParamArena& arena);

  int in_dim() const override { return D_; }
  int out_dim() const override { return D_; }
  int64_t state_size() const override;
  // Zoology's count for GLA (zoology/mixers/gla.py state_size): the H*K*V recurrent matrices plus
  // each short conv's channels * kernel size (fla's ShortConvolution.state_size)
  int64_t reported_state_size(int seq_len) const override;
  void forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) override;
  void backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) override;

  int heads() const { return H_; }
  int key_dim() const { return K_; }
  int value_dim() const { return V_; }

 protected:
  // g [rows, H*K]: the log decay (<= 0) of every key channel at every row of x [rows, D]
  virtual void decay_forward(const real* x, Index rows, real* g) = 0;
  // whether the decay depends on parameters or x (false: decay_backward is never called)
  virtual bool decay_learned() const = 0;
  // dg [rows, H*K] -> parameter gradients (added) and dx [rows, D] (added)
  virtual void decay_backward(const real* x, const real* dg, real* dx, Index rows) {}

  const Settings& settings() const { return cfg_; }
  int d_model() const { return D_; }

 private:
  // sizes of the packed state's parts: matrices, q/k/v conv tails, position (1 with RoPE)
  std::array<int64_t, 5> state_parts() const;
  void unpack_state(const real* packed, int B);  // -> h0_, conv_state_in_, pos_
  void pack_state(const RealVector& mats, const RealVector* tails, bool positions, int B, real* packed) const;

  Settings cfg_;
  int D_, H_, K_, V_;
  std::unique_ptr<Linear> q_proj_, k_proj_, v_proj_, g_proj_, o_proj_;
  std::unique_ptr<ShortConv> q_conv_, k_conv_, v_conv_;
  std::unique_ptr<HeadNorm> o_norm_;
  std::unique_ptr<Rope> rope_;

  int B_ = 0, T_ = 0;
  bool has_state_in_ = false;
  RealVector x_;                  // [B*T, D]
  RealVector qp_, kp_, vp_, gp_;  // [B*T, H*K] x2, [B*T, H*V] x2 projections
  RealVector qs_, ks_, vs_;       // same shapes: the streams the recurrence reads (conv, RoPE applied)
  RealVector g_;                  // [B*T, H*K] log decays
  RealVector qh_, kh_, vh_, gh_;  // [B, H, T, K] x2, [B, H, T, V], [B, H, T, K] kernel layout
  RealVector oh_;                 // [B, H, T, V]
  RealVector o_, normed_;         // [B*T, H*V]
  RealVector h0_, ht_;            // [B, H, K, V]
  RealVector conv_state_in_[3], conv_state_out_[3];  // [B, (W-1)*channels]
  std::vector<int> pos_;          // [B] position of each row's first token (RoPE)
  std::vector<DecayAttentionWorkspace> ws_;  // [B*H]
  // backward
  RealVector d_normed_, d_o_, d_gp_;         // [B*T, H*V]
  RealVector doh_, dqh_, dkh_, dvh_, dgh_;   // kernel layout
  RealVector dh0_, dht_;                     // [B, H, K, V]
  RealVector dqs_, dks_, dvs_, dg_;          // projection layout
  RealVector dqp_, dkp_, dvp_;
  RealVector dconv_out_[3], dconv_in_[3];
};

}  // namespace db
