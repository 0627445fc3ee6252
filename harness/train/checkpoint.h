// checkpoint.h: model checkpoints (safetensors) and the resumable training state.
//
// model.safetensors holds every parameter under its flash-linear-attention name and shape, F32,
// with __metadata__ carrying what is needed to rebuild the model without the experiment file:
// the task name and options, the model options and the mixer list (each as JSON), plus the seed,
// the step and the git sha. state.safetensors holds the AdamW moments and the step, so a resumed
// run continues bit for bit (data order and schedule are functions of the step and the seed).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "models/core/registry.h"
#include "models/backbones/model.h"
#include "models/optim/adamw.h"

namespace db {

// __metadata__ key naming deltabench's format of a file, and its values. ("format" itself is "pt",
// which Hugging Face's loader requires.)
inline constexpr const char* kRecipeFormatKey = "deltabench_format";
inline constexpr const char* kModelRecipeFormat = "deltabench-model-1";
inline constexpr const char* kLogitsFormat = "deltabench-logits-1";

struct ModelRecipe {
  std::string task_name;
  OptionOverrides task;          // task.<key> values
  Options model;                 // model.<key> resolved values
  std::vector<MixerSpec> mixers;
  uint64_t seed = 0;
  int64_t step = 0;
};

// JSON text <-> option maps (for safetensors metadata)
std::string options_to_json(const std::map<std::string, OptionValue>& values);
std::map<std::string, OptionValue> options_from_json(const std::string& json_text);

void save_model_checkpoint(const std::filesystem::path& path, const Model& model, const ModelRecipe& recipe,
                           const std::map<std::string, std::string>& extra_metadata = {});
// read the recipe from a checkpoint's metadata (throws with the file name when it is not ours)
ModelRecipe read_checkpoint_recipe(const std::filesystem::path& path);
// copy parameters into `model`; throws naming the file and tensor on a missing/mismatched tensor
void load_model_checkpoint(const std::filesystem::path& path, Model& model);

// what the training loop needs besides the weights and the moments to continue bit for bit
struct TrainingState {
  int64_t step = 0;
  double train_seconds = 0.0;
  int64_t tokens_seen = 0;
  double loss_window = 0.0;       // summed training loss since the last evaluation
  int64_t loss_window_steps = 0;  // steps in that sum
};
void save_training_state(const std::filesystem::path& path, const AdamW& optimizer, const TrainingState& state);
// restores the optimizer moments; returns the step etc.
TrainingState load_training_state(const std::filesystem::path& path, AdamW& optimizer);

}  // namespace db
