// fla_config.cpp: fla config.json for delta-rule models (see fla_config.h).
#include "harness/train/fla_config.h"

#include <fmt/format.h>

#include "models/core/registry.h"
#include "models/layers/swiglu_mlp.h"

namespace db {

namespace {

using nlohmann::json;

// fla's model_type for each deltabench mixer it has a model class for
const char* fla_model_type(const std::string& mixer) {
  if (mixer == "deltanet") return "delta_net";
  if (mixer == "gated_deltanet") return "gated_deltanet";
  if (mixer == "deltaproduct") return "gated_deltaproduct";
  return nullptr;
}


}  // namespace

FlaConfig fla_config(const ModelConfig& c) {
  auto no = [](std::string why) { return FlaConfig{std::nullopt, std::move(why)}; };
  if (c.backbone != "lm") return no("fla has no " + c.backbone + " backbone");
  if (c.layout != "block") return no("fla's layers are blocks of a mixer and an MLP (model.layout: block)");
  if (c.mlp != "swiglu") return no("fla's layers always have a SwiGLU MLP (model.mlp: swiglu)");
  if (c.norm != "rmsnorm") return no("fla's blocks use RMSNorm (model.norm: rmsnorm)");
  if (c.position != "none") return no("fla's delta-rule models have no position embedding (model.position: none)");
  if (c.head_bias) return no("fla's LM head has no bias (model.head_bias: false)");
  const MixerSpec& mixer = c.mixers.front();
  for (const auto& other : c.mixers)
    if (other.name != mixer.name || other.options != mixer.options) return no("fla's models use one mixer in every layer");
  const char* model_type = fla_model_type(mixer.name);
  if (!model_type) return no(fmt::format("fla has no language model for mixer '{}' in this schema", mixer.name));
  // every option with its default filled in
  const Options m = Options::resolve(find_mixer(mixer.name)->options, mixer.options);
  if (m.get_double("norm_eps") != c.norm_eps)
    return no("fla uses one norm_eps for the blocks and the mixer's output norm (model.norm_eps = mixer norm_eps)");
  if (!m.get_bool("use_beta")) return no("fla's delta-rule layers learn beta (use_beta: true)");
  const bool negative = m.get_list("eigen_range").at(0) < 0.0;

  const int64_t heads = m.get_int("num_heads");
  const int64_t head_dim = m.get_int("head_dim") > 0 ? m.get_int("head_dim") : c.d_model / heads;
  json j = {
      {"model_type", model_type},
      {"hidden_size", c.d_model},
      {"num_hidden_layers", c.n_layers},
      {"num_heads", heads},
      {"expand_v", m.get_double("expand_v")},
      {"use_short_conv", m.get_bool("use_short_conv")},
      {"conv_size", m.get_int("conv_size")},
      {"allow_neg_eigval", negative},
      {"intermediate_size", c.mlp_hidden > 0 ? c.mlp_hidden : swiglu_hidden_size(c.d_model)},
      {"hidden_act", "swish"},
      {"norm_eps", c.norm_eps},
      {"vocab_size", c.vocab_size},
      {"tie_word_embeddings", c.tie_embeddings},
      {"initializer_range", c.init_std},
      {"attn_mode", "chunk"},
      {"use_cache", true},
      // no id is special in a synthetic task's vocabulary
      {"bos_token_id", nullptr},
      {"eos_token_id", nullptr},
      {"pad_token_id", nullptr},
  };
  if (mixer.name == "deltanet") {
    // fla's DeltaNet sizes heads from expand_k: K per head = hidden_size * expand_k / num_heads
    j["expand_k"] = static_cast<double>(head_dim * heads) / c.d_model;
    j["use_gate"] = m.get_bool("use_output_gate");
    j["use_beta"] = true;
    j["use_output_norm"] = true;
    j["qk_norm"] = "l2";
    j["qk_activation"] = "silu";
  } else {
    j["head_dim"] = head_dim;
    if (mixer.name == "gated_deltanet") {
      if (!m.get_bool("use_forget_gate")) return no("fla's Gated DeltaNet always has its forget gate");
      j["use_gate"] = m.get_bool("use_output_gate");
    } else {
      j["use_output_gate"] = m.get_bool("use_output_gate");
      j["use_forget_gate"] = m.get_bool("use_forget_gate");
      j["num_householder"] = m.get_int("householder");
    }
  }
  return {j, ""};
}

}  // namespace db
