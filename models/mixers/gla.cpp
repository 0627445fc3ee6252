// gla.cpp: gated linear attention's decay (see the header); the layer is DiagonalDecayLayer.
#include "models/mixers/gla.h"

#include <cmath>

#include "models/numerics/activations.h"

namespace db {

namespace {

DiagonalDecayLayer::Settings gla_defaults() {
  DiagonalDecayLayer::Settings s;  // fla/layers/gla.py: 4 heads, expand_k 0.5, expand_v 1, gate on
  return s;
}

// log sigmoid(z) = -softplus(-z), without overflow on either side
real log_sigmoid(real z) { return z >= 0 ? -std::log1p(std::exp(-z)) : z - std::log1p(std::exp(z)); }

}  // namespace

OptionSpecs GlaMixer::option_specs() {
  OptionSpecs specs = DiagonalDecayLayer::option_specs(gla_defaults());
  specs.push_back({"gate_low_rank_dim", int64_t{16}, "rank r of the decay projection gk_proj: Linear(D -> r), then Linear(r -> H*K) with bias"});
  specs.push_back({"gate_logit_normalizer", 16.0, "gk = logsigmoid(gk_proj x) / gate_logit_normalizer"});
  return specs;
}

GlaMixer::GlaMixer(int d_model, const Options& o, ParamArena& arena)
    : DiagonalDecayLayer(d_model, settings_from(o, gla_defaults()), arena),
      normalizer_(static_cast<real>(o.get_double("gate_logit_normalizer"))) {
  const int r = static_cast<int>(o.get_int("gate_low_rank_dim"));
  if (r < 1) throw ConfigError("gate_low_rank_dim", "'gate_low_rank_dim' must be >= 1");
  if (!(normalizer_ > 0)) throw ConfigError("gate_logit_normalizer", "'gate_logit_normalizer' must be > 0");
  const double std = settings().init_std;
  gk_down_ = std::make_unique<Linear>(arena, "gk_proj.0", d_model, r, false, std);
  gk_up_ = std::make_unique<Linear>(arena, "gk_proj.1", r, heads() * key_dim(), true, std);
}

void GlaMixer::decay_forward(const real* x, Index rows, real* g) {
  const Index HK = Index(heads()) * key_dim();
  low_.resize(size_t(rows) * gk_down_->out_dim());
  z_.resize(size_t(rows * HK));
  gk_down_->apply(x, low_.data(), rows);
  gk_up_->apply(low_.data(), z_.data(), rows);
  for (Index i = 0; i < rows * HK; ++i) g[i] = log_sigmoid(z_[i]) / normalizer_;
}

void GlaMixer::decay_backward(const real* x, const real* dg, real* dx, Index rows) {
  const Index HK = Index(heads()) * key_dim();
  dz_.resize(size_t(rows * HK));
  dlow_.resize(low_.size());
  // d logsigmoid(z) / dz = sigmoid(-z)
  for (Index i = 0; i < rows * HK; ++i) dz_[i] = dg[i] / normalizer_ * sigmoid(-z_[i]);
  gk_up_->apply_backward(low_.data(), dz_.data(), dlow_.data(), rows, false);
  gk_down_->apply_backward(x, dlow_.data(), dx, rows, true);
}

const MixerEntry gla_mixer_entry{
    "gla",
    "gated linear attention (fla gla.py): per-key-channel decay logsigmoid(gk_proj x)/16, chunkwise or recurrent",
    GlaMixer::option_specs(),
    [](int d_model, const Options& o, ParamArena& a) -> std::unique_ptr<Mixer> {
      return std::make_unique<GlaMixer>(d_model, o, a);
    },
    {
        {{"chunk_size", int64_t{16}}},
        {{"mode", std::string("recurrent")}, {"use_short_conv", true}, {"use_output_gate", false},
         {"num_heads", int64_t{2}}, {"gate_low_rank_dim", int64_t{4}}, {"gate_logit_normalizer", 1.0}},
        // chunk 64: several 16-row sub-blocks per chunk at the mode test's lengths
        {{"chunk_size", int64_t{64}}, {"use_short_conv", true}, {"expand_k", 1.0}, {"expand_v", 2.0},
         {"num_heads", int64_t{1}}, {"gate_logit_normalizer", 1.0}},
    },
};

}  // namespace db
