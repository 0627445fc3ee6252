// gated_linear_attention.cpp: the recurrence of the worked example (see the header).
#include "models/mixers/gated_linear_attention.h"

#include <algorithm>
#include <cmath>

namespace db {

ProjectedRecurrenceLayer::Declaration GatedLinearAttentionMixer::declaration() {
  Declaration d;  // only the common keys
  d.settings.use_beta = false;    // no write strength: S = exp(g) S + k v^T
  d.settings.forget_gate = true;  // the gate is the point of the mixer
  d.settings.chunked = false;     // a single, token-by-token form (run_recurrence_* below)
  return d;
}

GatedLinearAttentionMixer::GatedLinearAttentionMixer(int d_model, const Options& options, ParamArena& arena)
    : ProjectedRecurrenceLayer(d_model, settings_from(options, declaration()), arena) {}

void GatedLinearAttentionMixer::run_recurrence_forward(const HeadSequence& s) {
  const int T = this->T(), K = this->K(), V = this->V();
  const real scale = static_cast<real>(1.0 / std::sqrt(static_cast<double>(K)));
  auto& states = states_[s.slot];
  states.resize(size_t(T + 1) * K * V);
  MatMap(states.data(), K, V) = s.h0 ? ConstMatMap(s.h0, K, V).eval() : MatrixR::Zero(K, V);
  for (int t = 0; t < T; ++t) {
    ConstMatMap prev(states.data() + size_t(t) * K * V, K, V);
    MatMap next(states.data() + size_t(t + 1) * K * V, K, V);
    // S_t = exp(g_t) S_{t-1} + k_t v_t^T
    next.noalias() = std::exp(s.g[t]) * prev + ConstVecMap(s.k + size_t(t) * K, K) * ConstVecMap(s.v + size_t(t) * V, V).transpose();
    VecMap(s.o + size_t(t) * V, V).noalias() = scale * next.transpose() * ConstVecMap(s.q + size_t(t) * K, K);
  }
  if (s.ht) std::copy_n(states.data() + size_t(T) * K * V, size_t(K) * V, s.ht);
}

void GatedLinearAttentionMixer::run_recurrence_backward(const HeadSequence& s, const HeadSequenceGrads& g) {
  const int T = this->T(), K = this->K(), V = this->V();
  const real scale = static_cast<real>(1.0 / std::sqrt(static_cast<double>(K)));
  const auto& states = states_[s.slot];
  // dS = dL/dS_t, walking backwards; starts from the final-state gradient
  MatrixR dS = g.dht ? ConstMatMap(g.dht, K, V).eval() : MatrixR::Zero(K, V);
  for (int t = T - 1; t >= 0; --t) {
    ConstMatMap prev(states.data() + size_t(t) * K * V, K, V);
    ConstMatMap cur(states.data() + size_t(t + 1) * K * V, K, V);
    ConstVecMap q(s.q + size_t(t) * K, K), k(s.k + size_t(t) * K, K), v(s.v + size_t(t) * V, V);
    ConstVecMap d_o(g.d_o + size_t(t) * V, V);
    // o_t = scale S_t^T q_t
    VecMap(g.dq + size_t(t) * K, K).noalias() = scale * cur * d_o;
    dS.noalias() += scale * q * d_o.transpose();
    // S_t = exp(g_t) S_{t-1} + k v^T
    VecMap(g.dk + size_t(t) * K, K).noalias() = dS * v;
    VecMap(g.dv + size_t(t) * V, V).noalias() = dS.transpose() * k;
    const real decay = std::exp(s.g[t]);
    g.dg[t] = decay * (prev.array() * dS.array()).sum();
    dS *= decay;
  }
  if (g.dh0) MatMap(g.dh0, K, V) = dS;
}

const MixerEntry gated_linear_attention_mixer_entry{
    "gated_linear_attention",
    "Mamba2-style scalar-gated linear attention S = exp(g) S + k v^T (worked example of docs/adding-a-mixer.md)",
    ProjectedRecurrenceLayer::option_specs(GatedLinearAttentionMixer::declaration()),
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<GatedLinearAttentionMixer>(d_model, o, a);
    },
    {
        {},
        {{"use_short_conv", false}, {"use_output_gate", true}, {"num_heads", int64_t{1}}},
    },
};

}  // namespace db
