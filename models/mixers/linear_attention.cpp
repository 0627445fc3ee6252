// linear_attention.cpp: additive-update linear attention on the delta-family scaffold.
#include "models/mixers/linear_attention.h"

#include <algorithm>

namespace db {

DeltaFamilyMixer::Settings LinearAttentionMixer::defaults() {
  Settings s;
  s.use_beta = false;
  return s;
}

OptionSpecs LinearAttentionMixer::specs() {
  OptionSpecs all = DeltaFamilyMixer::option_specs(defaults(), false, false);
  // no write strength and no eigenvalues to choose: the transition is the identity
  std::erase_if(all, [](const OptionSpec& s) { return s.key == "eigen_range" || s.key == "use_beta"; });
  return all;
}

LinearAttentionMixer::LinearAttentionMixer(int d_model, const Options& options, ParamArena& arena)
    : DeltaFamilyMixer(d_model, settings_from(with_fixed_keys(options, {{"eigen_range", std::vector<double>{0.0, 1.0}}, {"use_beta", false}}), defaults()), arena) {}

void LinearAttentionMixer::run_recurrence_forward(const HeadSequence& s) {
  LinearAttentionInputs in;
  in.T = T(), in.K = K(), in.V = V(), in.chunk = settings().chunk_size;
  in.q = s.q, in.k = s.k, in.v = s.v, in.h0 = s.h0;
  if (settings().chunked)
    linear_attention_chunk_forward(in, s.o, s.ht, la_ws_[s.slot]);
  else
    linear_attention_recurrent_forward(in, s.o, s.ht, la_ws_[s.slot]);
}

void LinearAttentionMixer::run_recurrence_backward(const HeadSequence& s, const HeadSequenceGrads& g) {
  LinearAttentionInputs in;
  in.T = T(), in.K = K(), in.V = V(), in.chunk = settings().chunk_size;
  in.q = s.q, in.k = s.k, in.v = s.v, in.h0 = s.h0;
  LinearAttentionGrads grads;
  grads.dq = g.dq, grads.dk = g.dk, grads.dv = g.dv, grads.dh0 = g.dh0;
  if (settings().chunked)
    linear_attention_chunk_backward(in, g.d_o, g.dht, grads, la_ws_[s.slot]);
  else
    linear_attention_recurrent_backward(in, g.d_o, g.dht, grads, la_ws_[s.slot]);
}

const MixerEntry linear_attention_mixer_entry{
    "linear_attention",
    "linear attention: the DeltaNet layer with the additive update S += k v^T",
    LinearAttentionMixer::specs(),
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<LinearAttentionMixer>(d_model, o, a);
    },
    {
        {{"chunk_size", int64_t{16}}},
        {{"mode", std::string("recurrent")}, {"use_short_conv", false}},
    },
    /*has_recurrent_mode=*/true,
};

}  // namespace db
