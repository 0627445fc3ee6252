// fla_config.h: a Hugging Face config.json in flash-linear-attention's schema for a trained model.
//
// deltabench writes model.safetensors under fla's tensor names and layouts, so a model that fla can
// express opens with `AutoModelForCausalLM.from_pretrained(run_dir)` once fla is installed, given this
// config beside it. fla expresses the delta-rule family in its LM scaffold: pre-norm RMSNorm blocks,
// a SwiGLU MLP after every mixer, no position embedding, one mixer type for all layers. Other models
// (Zoology's MLP-free MQAR scaffold, softmax or linear attention, hybrids, MAD's backbones) get no
// config, and the reason says why.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "models/backbones/model.h"

namespace db {

struct FlaConfig {
  std::optional<nlohmann::json> json;  // config.json contents, or empty when fla has no such model
  std::string why_not;                 // set when json is empty
};

FlaConfig fla_config(const ModelConfig& model);

}  // namespace db
