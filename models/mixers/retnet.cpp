// retnet.cpp: multi-scale retention's fixed decays on DiagonalDecayLayer (see the header).
#include "models/mixers/retnet.h"

#include <cmath>

namespace db {

namespace {

DiagonalDecayLayer::Settings retnet_defaults() {
  DiagonalDecayLayer::Settings s;  // fla/layers/multiscale_retention.py
  s.num_heads = 8;
  s.expand_k = 1.0;
  s.expand_v = 2.0;
  s.rope = true;
  return s;
}

}  // namespace

double RetNetMixer::decay(int head) { return 1.0 - std::pow(2.0, -5.0 - head); }

OptionSpecs RetNetMixer::option_specs() { return DiagonalDecayLayer::option_specs(retnet_defaults()); }

RetNetMixer::RetNetMixer(int d_model, const Options& o, ParamArena& arena)
    : DiagonalDecayLayer(d_model, settings_from(o, retnet_defaults()), arena) {}

void RetNetMixer::decay_forward(const real*, Index rows, real* g) {
  const int H = heads(), K = key_dim();
  for (Index r = 0; r < rows; ++r)
    for (int h = 0; h < H; ++h) {
      const real lg = static_cast<real>(std::log(decay(h)));
      std::fill_n(g + (r * H + h) * K, K, lg);
    }
}

const MixerEntry retnet_mixer_entry{
    "retnet",
    "multi-scale retention (fla multiscale_retention.py): RoPE q/k, fixed decay 1 - 2^(-5-h) per head",
    RetNetMixer::option_specs(),
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<RetNetMixer>(d_model, o, a);
    },
    {
        // 4 heads: the default 8 would leave a single key channel per head at the tests' widths
        {{"chunk_size", int64_t{16}}, {"num_heads", int64_t{4}}},
        {{"mode", std::string("recurrent")}, {"use_short_conv", true}, {"use_output_gate", false},
         {"num_heads", int64_t{2}}},
        {{"chunk_size", int64_t{32}}, {"use_short_conv", true}, {"num_heads", int64_t{2}}, {"expand_v", 1.0}},
    },
};

}  // namespace db
