// checkpoint.cpp: safetensors model checkpoints and training state (see checkpoint.h).
#include "harness/train/checkpoint.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/safetensors.h"
#include "common/version.h"

namespace db {

namespace {
nlohmann::json to_json(const OptionValue& v) {
  if (auto b = std::get_if<bool>(&v)) return *b;
  if (auto i = std::get_if<int64_t>(&v)) return *i;
  if (auto d = std::get_if<double>(&v)) return *d;
  if (auto s = std::get_if<std::string>(&v)) return *s;
  return std::get<std::vector<double>>(v);
}
OptionValue from_json(const nlohmann::json& j) {
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) return j.get<std::string>();
  if (j.is_array()) return j.get<std::vector<double>>();
  throw std::runtime_error("unsupported option value in checkpoint metadata: " + j.dump());
}
std::vector<float> to_f32(const real* p, size_t n) { return std::vector<float>(p, p + n); }
}  // namespace

std::string options_to_json(const std::map<std::string, OptionValue>& values) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : values) j[k] = to_json(v);
  return j.dump();
}

std::map<std::string, OptionValue> options_from_json(const std::string& text) {
  std::map<std::string, OptionValue> out;
  // keep the parsed document alive: items() refers into it
  const nlohmann::json document = nlohmann::json::parse(text);
  for (const auto& [k, v] : document.items()) out[k] = from_json(v);
  return out;
}

void save_model_checkpoint(const std::filesystem::path& path, const Model& model, const ModelRecipe& r,
                           const std::map<std::string, std::string>& extra) {
  std::map<std::string, SafeTensor> tensors;
  const ParamArena& arena = model.params();
  for (const auto& p : arena.params()) {
    if (tensors.count(p.name)) continue;  // a tied head shares the embedding tensor
    const auto values = to_f32(arena.data() + p.offset, p.size);
    tensors[p.name] = SafeTensor::from_f32(p.shape, values);
  }
  std::map<std::string, std::string> meta = extra;
  // "format" is what Hugging Face's loader requires ("pt": PyTorch tensors) before it opens a file
  // with fla's models; deltabench's own recipe format is named beside it
  meta["format"] = "pt";
  meta[kRecipeFormatKey] = kModelRecipeFormat;
  meta["task_name"] = r.task_name;
  meta["task"] = options_to_json(r.task);
  meta["model"] = options_to_json(r.model.values());
  nlohmann::json mixers = nlohmann::json::array();
  for (const auto& m : r.mixers) mixers.push_back({{"name", m.name}, {"options", nlohmann::json::parse(options_to_json(m.options))}});
  meta["mixers"] = mixers.dump();
  meta["seed"] = std::to_string(r.seed);
  meta["step"] = std::to_string(r.step);
  meta["git_sha"] = git_sha();
  meta["build"] = build_flavour();
  write_safetensors(path.string(), tensors, meta);
}

ModelRecipe read_checkpoint_recipe(const std::filesystem::path& path) {
  const SafetensorsFile f = read_safetensors(path.string());
  // checkpoints written before the recipe format had its own key carry it in "format"
  if (f.meta(kRecipeFormatKey, f.meta("format")) != kModelRecipeFormat)
    throw std::runtime_error(fmt::format("{}: not a deltabench model checkpoint (no __metadata__.format)", path.string()));
  ModelRecipe r;
  try {
    r.task_name = f.meta("task_name");
    r.task = options_from_json(f.meta("task"));
    for (const auto& [k, v] : options_from_json(f.meta("model"))) r.model.set(k, v);
    for (const auto& m : nlohmann::json::parse(f.meta("mixers")))
      r.mixers.push_back({m.at("name").get<std::string>(), options_from_json(m.at("options").dump())});
    r.seed = std::stoull(f.meta("seed", "0"));
    r.step = std::stoll(f.meta("step", "0"));
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: unreadable checkpoint metadata: {}", path.string(), e.what()));
  }
  return r;
}

void load_model_checkpoint(const std::filesystem::path& path, Model& model) {
  const SafetensorsFile f = read_safetensors(path.string());
  ParamArena& arena = model.params();
  for (const auto& p : arena.params()) {
    if (!f.has(p.name))
      throw std::runtime_error(fmt::format("{}: tensor '{}' missing (checkpoint of a different model?)", path.string(), p.name));
    if (f.shape(p.name) != p.shape)
      throw std::runtime_error(fmt::format("{}: tensor '{}' has shape {} but the model expects {}", path.string(),
                                           p.name, fmt::join(f.shape(p.name), "x"), fmt::join(p.shape, "x")));
    const auto values = f.f32(p.name);
    std::copy(values.begin(), values.end(), arena.data() + p.offset);
  }
}

void save_training_state(const std::filesystem::path& path, const AdamW& opt, const TrainingState& state) {
  auto& o = const_cast<AdamW&>(opt);
  std::map<std::string, SafeTensor> tensors;
  const int64_t n = static_cast<int64_t>(o.first_moment().size());
  tensors["adamw.m"] = SafeTensor::from_f32({n}, to_f32(o.first_moment().data(), n));
  tensors["adamw.v"] = SafeTensor::from_f32({n}, to_f32(o.second_moment().data(), n));
  write_safetensors(path.string(), tensors,
                    {{"format", "deltabench-state-1"},
                     {"step", std::to_string(state.step)},
                     {"adamw_steps", std::to_string(o.steps_taken())},
                     {"train_seconds", fmt::format("{:.17g}", state.train_seconds)},
                     {"tokens_seen", std::to_string(state.tokens_seen)},
                     {"loss_window", fmt::format("{:.17g}", state.loss_window)},
                     {"loss_window_steps", std::to_string(state.loss_window_steps)}});
}

TrainingState load_training_state(const std::filesystem::path& path, AdamW& opt) {
  const SafetensorsFile f = read_safetensors(path.string());
  if (f.meta("format") != "deltabench-state-1")
    throw std::runtime_error(path.string() + ": not a deltabench training state");
  const auto m = f.f32("adamw.m"), v = f.f32("adamw.v");
  if (m.size() != opt.first_moment().size() || v.size() != opt.second_moment().size())
    throw std::runtime_error(path.string() + ": optimizer state does not match the model size");
  std::copy(m.begin(), m.end(), opt.first_moment().begin());
  std::copy(v.begin(), v.end(), opt.second_moment().begin());
  TrainingState s;
  try {
    opt.set_steps_taken(std::stoll(f.meta("adamw_steps")));
    s.step = std::stoll(f.meta("step"));
    s.train_seconds = std::stod(f.meta("train_seconds"));
    s.tokens_seen = std::stoll(f.meta("tokens_seen"));
    s.loss_window = std::stod(f.meta("loss_window", "0"));
    s.loss_window_steps = std::stoll(f.meta("loss_window_steps", "0"));
  } catch (const std::logic_error& e) {  // std::invalid_argument / std::out_of_range from the conversions
    throw std::runtime_error(fmt::format("{}: damaged training-state metadata ({})", path.string(), e.what()));
  }
  return s;
}

}  // namespace db
