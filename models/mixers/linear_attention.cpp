// linear_attention.cpp: additive-update linear attention on the projected-recurrence layer.
#include "models/mixers/linear_attention.h"

namespace db {

ProjectedRecurrenceLayer::Declaration LinearAttentionMixer::declaration() {
  Declaration d;
  d.groups = {OptionGroup::kKernelChoice};
  d.settings.use_beta = false;  // no write strength and no eigenvalues: the transition is the identity
  return d;
}

LinearAttentionMixer::LinearAttentionMixer(int d_model, const Options& options, ParamArena& arena)
    : ProjectedRecurrenceLayer(d_model, settings_from(options, declaration()), arena) {}

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
    ProjectedRecurrenceLayer::option_specs(LinearAttentionMixer::declaration()),
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<LinearAttentionMixer>(d_model, o, a);
    },
    {
        {{"chunk_size", int64_t{16}}},
        {{"mode", std::string("recurrent")}, {"use_short_conv", false}},
    },
};

}  // namespace db
