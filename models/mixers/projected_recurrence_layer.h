// projected_recurrence_layer.h: ProjectedRecurrenceLayer, the flash-linear-attention layer around a
// per-head matrix-state recurrence, shared by linear attention, DeltaNet, Gated DeltaNet, DeltaProduct
// and gated linear attention.
//
// The name says what the layer is: projections of x into queries, keys, values (and write strength,
// gates), a recurrence over one [K, V] state per head, and a projection back. It was called the
// "delta family", which linear attention and gated linear attention are not (their updates are
// additive); "fla layer" would say where it comes from, not what it does. As in fla/layers/delta_net.py,
// gated_deltanet.py and gated_deltaproduct.py:
//   q = conv(q_proj x), k = conv(k_proj x), v = conv(v_proj x)   (causal depthwise conv 4 + SiLU)
//   q, k L2-normalised per head;  beta = c * sigmoid(b_proj x), c = 2 when eigenvalues may be negative
//   g = -exp(A_log) * softplus(a_proj x + dt_bias)                (forget gate, optional)
//   o = recurrence(q, k, v, beta, g) per (batch, head)
//   y = o_proj( RMSNorm_head(o) [* SiLU(g_proj x)] )
//
// A mixer built on it (a subclass) declares what it has in a Declaration: the option groups it offers
// beyond the common keys (OptionGroup: learned beta and eigenvalue range, choice of kernel, forget
// gate, Householder steps) and its Settings, which are the defaults of those keys and the fixed values
// of everything it does not offer. option_specs(declaration) is the entry's key list and
// settings_from(options, declaration) reads exactly those keys, so a mixer has no key it ignores.
// A subclass may also replace the recurrence (run_recurrence_*): DeltaNet, Gated DeltaNet and
// DeltaProduct use the gated delta-rule kernel, linear attention the additive one, and a new variant
// brings its own. Each (batch, head) sequence runs on one thread; OpenMP spreads them over cores, and
// every reduction over them is summed in a fixed order, so results do not depend on scheduling.
//
// Carried state per sequence (state_size()): [H, K, V] recurrent matrices, then the short-conv
// tails of q, k and v ([(W-1) * channels] each) when the short conv is on; pack_state/unpack_state
// move it between that packed form and the layer's per-part buffers.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "common/options.h"
#include "models/core/module.h"
#include "models/core/params.h"
#include "models/kernels/gated_delta_rule.h"
#include "models/kernels/linear_attention.h"
#include "models/layers/head_norm.h"
#include "models/layers/linear.h"
#include "models/layers/short_conv.h"

namespace db {

class ProjectedRecurrenceLayer : public Mixer {
 public:
  // what the layer builds; every field but init_std is behind one option key (see option_specs)
  struct Settings {
    int num_heads = 2;           // H
    int head_dim = 0;            // K; 0 = d_model / H
    double expand_v = 1.0;       // V = K * expand_v
    bool use_beta = true;        // false: beta = 1 (and no b_proj)
    bool negative_eigen = false; // beta in (0, 2): eigenvalues of I - beta k k^T in [-1, 1]
    bool forget_gate = false;    // g = -exp(A_log) softplus(a_proj x + dt_bias)
    bool output_gate = false;    // o_norm(o) * SiLU(g_proj x)
    int householder = 1;         // n_h sub-steps per token (DeltaProduct)
    bool short_conv = true;
    int conv_size = 4;
    bool chunked = true;         // chunkwise (WY/UT) kernel; false = token-by-token reference
    int chunk_size = 64;
    double norm_eps = 1e-6;      // o_norm
    double init_std = 0.02;
  };

  // Option keys beyond the common ones (num_heads, head_dim, expand_v, use_output_gate,
  // use_short_conv, conv_size, norm_eps), in groups. A mixer lists the groups it offers; a group it
  // does not list has no keys, and the settings behind it keep the mixer's fixed values.
  enum class OptionGroup {
    kWriteStrength,  // eigen_range, use_beta: learned beta = c sigmoid(b_proj x)
    kKernelChoice,   // mode, chunk_size: chunkwise kernel or the token-by-token reference
    kForgetGate,     // use_forget_gate: switch the forget gate on or off
    kHouseholder,    // householder: n_h delta steps per token
  };
  // what a mixer built on this layer has
  struct Declaration {
    std::vector<OptionGroup> groups;  // the option groups it offers
    Settings settings;                // defaults of its keys; fixed values of everything else
    bool offers(OptionGroup g) const;
  };

  ProjectedRecurrenceLayer(int d_model, const Settings& settings, ParamArena& arena);

  int in_dim() const override { return D_; }
  int out_dim() const override { return D_; }
  int64_t state_size() const override;
  int64_t reported_state_size(int seq_len) const override { return int64_t{H_} * K_ * V_; }
  void forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) override;
  void backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) override;

  // the option keys of a mixer with this declaration (the common keys and those of its groups),
  // with its settings as defaults
  static OptionSpecs option_specs(const Declaration& declaration);
  // settings from resolved options: the declaration's settings with the declared keys read on top
  // (other keys in `options`, e.g. a subclass's own, are left alone); throws ConfigError for bad values
  static Settings settings_from(const Options& options, const Declaration& declaration);
  // the key and value dims per head (K, V) a layer of this width and these settings has; throws
  // ConfigError when d_model does not split into the heads
  static std::array<int, 2> head_dims(int d_model, const Settings& settings);

 protected:
  // one (batch, head) sequence in kernel layout; pointers into the mixer's buffers
  struct HeadSequence {
    int slot = 0;                    // b*H + h, indexes per-sequence workspaces
    const real* q = nullptr;         // [T, K] L2-normalised
    const real* k = nullptr;         // [T*n_h, K] L2-normalised
    const real* v = nullptr;         // [T*n_h, V]
    const real* beta = nullptr;      // [T*n_h] (null when use_beta = false: all ones)
    const real* g = nullptr;         // [T] log decay, or null
    const real* h0 = nullptr;        // [K, V] or null
    real* o = nullptr;               // [T, V]
    real* ht = nullptr;              // [K, V] or null
  };
  struct HeadSequenceGrads {
    const real* d_o = nullptr;       // [T, V]
    const real* dht = nullptr;       // [K, V] or null
    real* dq = nullptr;              // [T, K]
    real* dk = nullptr;              // [T*n_h, K]
    real* dv = nullptr;              // [T*n_h, V]
    real* dbeta = nullptr;           // [T*n_h] or null
    real* dg = nullptr;              // [T] or null
    real* dh0 = nullptr;             // [K, V] or null
  };
  // the recurrence of one sequence; the default is the gated delta rule (chunkwise or recurrent)
  virtual void run_recurrence_forward(const HeadSequence& s);
  // called once per forward, before sequences run in parallel, with the number of sequences:
  // the place to size per-sequence workspaces of an overriding recurrence
  virtual void prepare_recurrence(int sequences) {}
  virtual void run_recurrence_backward(const HeadSequence& s, const HeadSequenceGrads& g);

  const Settings& settings() const { return cfg_; }
  int T() const { return T_; }
  int K() const { return K_; }
  int V() const { return V_; }

 private:
  // sizes of the parts of one sequence's carried state, in packed order: the H*K*V recurrent
  // matrices, then the q, k and v conv tails (0 each without the short conv); they sum to state_size()
  std::array<int64_t, 4> state_parts() const;
  // [B, state_size()] packed states -> one [B, n] buffer per part (resized; parts of size 0 untouched)
  void unpack_state(const real* packed, int B, const std::array<RealVector*, 4>& parts) const;
  // one [B, n] buffer per part -> [B, state_size()] packed states
  void pack_state(const std::array<const RealVector*, 4>& parts, int B, real* packed) const;
  // the kernel-layout buffers of sequence bh = b*H + h (after forward has filled them)
  HeadSequence head_sequence(int bh, const real* ones);
  RealVector& ones_for(int len);

  Settings cfg_;
  int D_, H_, K_, V_, nh_;
  // parameters (fla names)
  std::unique_ptr<Linear> q_proj_, k_proj_, v_proj_, b_proj_, a_proj_, g_proj_, o_proj_;
  std::unique_ptr<ShortConv> q_conv_, k_conv_, v_conv_;
  std::unique_ptr<HeadNorm> o_norm_;
  Param A_log_, dt_bias_;  // [H] each

  int B_ = 0, T_ = 0;
  bool has_state_in_ = false;
  RealVector x_;                  // [B*T, D] input
  RealVector qp_, kp_, vp_;       // [B*T, H*K], [B*T, n_h*H*K], [B*T, n_h*H*V] projections
  RealVector qc_, kc_, vc_;       // same shapes after conv + SiLU
  RealVector bp_, ap_, gp_;       // [B*T, n_h*H], [B*T, H], [B*T, H*V]
  RealVector qn_, kn_, vh_;       // [B, H, T, K], [B, H, T*n_h, K], [B, H, T*n_h, V] kernel layout
  RealVector q_rstd_, k_rstd_;    // [B, H, T], [B, H, T*n_h]
  RealVector beta_, g_, gz_;      // [B, H, T*n_h], [B, H, T], [B, H, T] (gz = a + dt_bias)
  RealVector oh_;                 // [B, H, T, V] kernel output
  RealVector o_;                  // [B*T, H*V] heads flattened
  RealVector normed_;             // [B*T, H*V] after o_norm (and gate)
  RealVector h0_, ht_;            // [B, H, K, V]
  RealVector conv_state_in_[3];   // [B, (W-1)*channels] q, k, v
  RealVector conv_state_out_[3];
  RealVector ones_;               // [T*n_h] beta = 1 when use_beta is off
  std::vector<DeltaRuleWorkspace> ws_;   // [B*H]
  // backward buffers
  RealVector d_normed_, d_o_, d_gp_;   // [B*T, H*V]
  RealVector doh_, dqn_, dkn_, dvh_;   // kernel layout grads
  RealVector dbeta_, dg_, dh0_, dht_;  // [B,H,T*n_h], [B,H,T], [B,H,K,V] x2
  RealVector dqc_, dkc_, dvc_, dbp_, dap_;  // projection-layout grads
  RealVector dqp_, dkp_, dvp_;
  RealVector dA_part_, ddt_part_;      // [B, H] per-sequence partial sums
  RealVector dconv_out_[3], dconv_in_[3];
};

}  // namespace db
