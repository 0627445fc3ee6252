// softmax_attention.h: causal multi-head softmax attention, the baseline and hybrid partner.
//
// q, k, v, o projections without bias; optional rotary embedding on q and k; optional sliding
// window (each query sees the last `window` keys, itself included). A direct implementation:
// the [T, T] probabilities of every (batch, head) are kept for the backward, which is fine at the
// sequence lengths of the synthetic benchmarks. Without a window the state grows with T (the KV
// cache), so the mixer cannot carry a fixed-size state: state_size() is 0 and split runs are not
// supported; reported_state_size(T) is the KV cache, 2 * min(T, window) * D numbers.
#pragma once

#include <memory>
#include <vector>

#include "models/core/registry.h"
#include "models/layers/linear.h"
#include "models/layers/rope.h"

namespace db {

class SoftmaxAttentionMixer : public Mixer {
 public:
  SoftmaxAttentionMixer(int d_model, const Options& options, ParamArena& arena);

  int in_dim() const override { return D_; }
  int out_dim() const override { return D_; }
  int64_t state_size() const override { return 0; }
  int64_t reported_state_size(int seq_len) const override;
  void forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) override;
  void backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) override;

 private:
  // offset of (batch, head) bh = b*H + h in the [B*T, H*K] q/k/v buffers (row stride H*K)
  Index head_offset(int bh) const;

  int D_, H_, K_;
  int window_;  // 0 = full causal attention
  std::unique_ptr<Linear> q_proj_, k_proj_, v_proj_, o_proj_;
  std::unique_ptr<Rope> rope_;

  int B_ = 0, T_ = 0;
  RealVector x_;           // [B*T, D]
  RealVector q_, k_, v_;   // [B*T, H*K] (q, k after RoPE)
  RealVector probs_;       // [B, H, T, T] softmax probabilities (zero above the diagonal / outside the window)
  RealVector att_;         // [B*T, H*K] attention output before o_proj
  RealVector datt_, dq_, dk_, dv_;  // [B*T, H*K]
  RealVector dscore_;      // [B, H, T, T]
};

extern const MixerEntry softmax_attention_mixer_entry;

}  // namespace db
