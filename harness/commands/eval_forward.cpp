// eval_forward.cpp: `deltabench eval` and `deltabench forward` (see eval_forward.h).
//
// The model is always rebuilt from the checkpoint's own task (not the evaluated one): its
// vocabulary and maximum length fix the embedding and position-table shapes the parameters were
// saved with. The evaluated task only has to fit inside those (vocabulary no larger; with learned
// positions, inputs no longer than the table), which is checked up front with a clear message
// instead of failing deep inside a batch.
#include "harness/commands/eval_forward.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "common/safetensors.h"
#include "harness/config/config_checks.h"
#include "harness/train/checkpoint.h"
#include "harness/train/device_support.h"
#include "harness/train/gpu_logits.h"
#include "harness/train/evaluation.h"
#include "harness/config/experiment_error.h"
#include "harness/sweep/expansion.h"
#include "harness/config/yaml_values.h"

namespace db {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void bad_input(const std::string& message) { throw InferenceInputError(message); }

// a run folder stands for its model.safetensors, so `eval --checkpoint results/x/runs/y` works
fs::path checkpoint_file(const fs::path& given) {
  std::error_code ec;
  if (fs::is_directory(given, ec)) return given / "model.safetensors";
  return given;
}

// read_safetensors and the checkpoint readers already name the file; anything else gets it prefixed
std::string naming(const fs::path& file, const std::string& message) {
  return message.find(file.string()) != std::string::npos ? message : file.string() + ": " + message;
}

// the largest input length the model accepts: only a learned position table imposes one
std::optional<int> position_limit(const Model& model) {
  if (model.config().position == "learned") return model.config().max_seq_len;
  return std::nullopt;
}

// "task.key=value" (prefix optional, as for `deltabench sample`) -> key, value; only task keys
// may change, since the model itself is fixed by the checkpoint
std::pair<std::string, OptionValue> parse_task_set(const std::string& text) {
  const size_t eq = text.find('=');
  const std::string lhs = text.substr(0, eq);
  const bool prefixed = lhs.rfind("task.", 0) == 0;
  if (eq == std::string::npos || (!prefixed && lhs.find('.') != std::string::npos))
    throw ExperimentError(Origin::from_cli("--set " + text), "",
                          "eval changes task keys only: --set task.<key>=<value>");
  const Assignment a = parse_set_override(prefixed ? text : "task." + text);
  const std::string key = a.key.substr(5);
  if (key == "name") throw ExperimentError(Origin::from_cli("--set " + text), a.key, "use --task NAME to evaluate another task");
  return {key, yaml_to_option_value(a.value, Origin::from_cli("--set " + text), a.key)};
}

std::string fmt_number(double v) { return std::isnan(v) ? "nan" : fmt::format("{:.6g}", v); }

nlohmann::json json_number(double v) {
  if (!std::isfinite(v)) return nullptr;  // JSON has no NaN/inf
  return v;
}

nlohmann::json option_json(const OptionValue& v) {
  return std::visit([](const auto& x) { return nlohmann::json(x); }, v);
}

}  // namespace

LoadedCheckpoint load_checkpoint(const fs::path& given) {
  LoadedCheckpoint c;
  c.path = checkpoint_file(given);
  std::error_code ec;
  if (!fs::exists(c.path, ec)) bad_input(fmt::format("{}: no such checkpoint file", c.path.string()));
  try {
    // read_checkpoint_recipe parses the whole file: a truncated or corrupt file fails here
    c.recipe = read_checkpoint_recipe(c.path);
    c.metadata = read_safetensors(c.path.string()).metadata;
  } catch (const std::exception& e) {
    bad_input(naming(c.path, e.what()));
  }
  try {
    c.task = create_task(c.recipe.task_name, c.recipe.task);
  } catch (const ConfigError& e) {
    bad_input(fmt::format("{}: checkpoint metadata: task.{}: {}", c.path.string(), e.key, e.what()));
  }
  ModelConfig mc;
  try {
    check_model_values(c.recipe.model);  // the checks a run's config passed, in case the metadata was edited
    mc = ModelConfig::from_options(c.recipe.model, c.recipe.mixers, c.task->vocab_size(), c.task->max_input_length());
    c.model = std::make_unique<Model>(mc);
  } catch (const ConfigError& e) {
    bad_input(fmt::format("{}: checkpoint metadata: model.{}: {}", c.path.string(), e.key, e.what()));
  } catch (const std::exception& e) {
    bad_input(fmt::format("{}: checkpoint metadata describes no buildable model: {}", c.path.string(), e.what()));
  }
  try {
    load_model_checkpoint(c.path, *c.model);
  } catch (const std::exception& e) {
    bad_input(naming(c.path, e.what()));
  }
  return c;
}

int eval_command(const EvalArgs& args, std::ostream& out, std::ostream& err) {
  try {
    if (args.split != "train" && args.split != "test")
      throw ExperimentError(Origin::from_cli("--split " + args.split), "", "must be train or test");
    if (args.num_examples < 0) throw ExperimentError(Origin::from_cli("-n"), "", "must be >= 0");
    if (args.batch_size < 1) throw ExperimentError(Origin::from_cli("--batch-size"), "", "must be >= 1");
    if (args.threads > 0) omp_set_num_threads(args.threads);

    LoadedCheckpoint ck = load_checkpoint(args.checkpoint);
    const std::string file = ck.path.string();

    // the evaluated task: the checkpoint's own options (same task) or defaults (another task),
    // then --set on top
    const std::string task_name = args.task.empty() ? ck.recipe.task_name : args.task;
    std::map<std::string, OptionValue> overrides;
    if (task_name == ck.recipe.task_name) overrides = ck.recipe.task;
    std::map<std::string, std::string> set_texts;  // key -> the --set text, to point at it on error
    for (const auto& text : args.sets) {
      auto [key, value] = parse_task_set(text);
      overrides[key] = std::move(value);
      set_texts[key] = text;
    }
    std::unique_ptr<Task> task;
    try {
      task = create_task(task_name, overrides);
    } catch (const ConfigError& e) {
      auto it = set_texts.find(e.key);
      if (e.key == "name") throw ExperimentError(Origin::from_cli("--task " + task_name), "task", e.what());
      throw ExperimentError(it != set_texts.end() ? Origin::from_cli("--set " + it->second) : Origin::from_cli(file),
                            "task." + e.key, e.what());
    }
    const ModelConfig& mc = ck.model->config();
    if (task->vocab_size() > mc.vocab_size)
      bad_input(fmt::format("{}: task '{}' uses a vocabulary of {} tokens but the model was trained with {}; "
                            "it cannot embed or predict the extra ids",
                            file, task->name(), task->vocab_size(), mc.vocab_size));
    if (auto limit = position_limit(*ck.model); limit && task->max_input_length() > *limit)
      bad_input(fmt::format("{}: the model has learned positions for {} tokens, but task '{}' produces inputs of up "
                            "to {}; a learned position table cannot be evaluated past its length",
                            file, *limit, task->name(), task->max_input_length()));

    const Split split = args.split == "train" ? Split::train : Split::test;
    const uint64_t seed = args.seed.value_or(ck.recipe.seed);
    const int64_t size = task->split_size(split);
    const int64_t n = args.num_examples > 0 ? std::min(args.num_examples, size) : size;
    try {
      check_examples_fit_in_memory(*task, split, n);
    } catch (const ConfigError& e) {
      bad_input(fmt::format("{}: task.{}: {}", file, e.key, e.what()));
    }
    const std::vector<Example> examples = task->generate(split, split_seed(seed, split), 0, n);

    Evaluation e;
    try {
      e = evaluate_model(*ck.model, *task, examples, static_cast<int>(args.batch_size));
    } catch (const std::out_of_range& ex) {
      // token or target ids / lengths the model cannot take (pre-checked above; kept as a backstop)
      bad_input(fmt::format("{}: {}", file, ex.what()));
    }

    const Options resolved = Options::resolve(find_task(task_name)->options, overrides);
    if (args.json) {
      nlohmann::json j;
      j["checkpoint"] = file;
      j["step"] = ck.recipe.step;
      j["task_name"] = task->name();
      nlohmann::json opts = nlohmann::json::object();
      for (const auto& [k, v] : resolved.values()) opts[k] = option_json(v);
      j["task"] = opts;
      j["split"] = args.split;
      j["seed"] = seed;
      j["examples"] = static_cast<int64_t>(examples.size());
      nlohmann::json metrics = nlohmann::json::object();
      for (const auto& [k, v] : e.metrics.scalars) metrics[k] = json_number(v);
      metrics["loss"] = json_number(e.loss);
      j["metrics"] = metrics;
      nlohmann::json curves = nlohmann::json::object();
      for (const auto& [k, values] : e.metrics.curves) {
        nlohmann::json list = nlohmann::json::array();
        for (double v : values) list.push_back(json_number(v));
        curves[k] = list;
      }
      j["curves"] = curves;
      out << j.dump() << '\n';
    } else {
      std::string opts;
      for (const auto& [k, v] : resolved.values()) opts += fmt::format(" {}={}", k, value_text(v));
      std::vector<std::pair<std::string, std::string>> rows{
          {"checkpoint", fmt::format("{} (step {})", file, ck.recipe.step)},
          {"task", task->name() + opts},
          {"split", fmt::format("{}, {} examples, seed {}", args.split, examples.size(), seed)}};
      for (const auto& [k, v] : e.metrics.scalars) rows.emplace_back(k, fmt_number(v));
      rows.emplace_back("loss", fmt_number(e.loss));
      for (const auto& [k, values] : e.metrics.curves) {
        std::string list;
        for (size_t i = 0; i < values.size(); ++i) {
          if (i) list += ' ';
          list += fmt_number(values[i]);
        }
        rows.emplace_back(k, "[" + list + "]");
      }
      size_t width = 0;
      for (const auto& r : rows) width = std::max(width, r.first.size());
      for (const auto& [k, v] : rows) out << fmt::format("{:<{}}  {}\n", k, width, v);
    }
    return 0;
  } catch (const ExperimentError& e) {
    err << "error: " << e.what() << '\n';
    return 2;
  } catch (const InferenceInputError& e) {
    err << "error: " << e.what() << '\n';
    return 2;
  }
}

namespace {

// the logits by the model's GPU twin; a failure to run there (no GPU visible) is not bad input
void logits_on_gpu(const LoadedCheckpoint& ck, const int32_t* tokens, int B, int T, real* logits) {
#ifdef DELTABENCH_HAVE_CUDA
  gpu_forward_logits(*ck.model, tokens, B, T, /*gpu=*/0, logits);
#else
  (void)ck, (void)tokens, (void)B, (void)T, (void)logits;
  throw std::logic_error("logits_on_gpu: a build without CUDA never gets here");
#endif
}

}  // namespace

int forward_command(const ForwardArgs& args, std::ostream&, std::ostream& err) {
  try {
    if (args.device != "cpu" && args.device != "cuda")
      bad_input(fmt::format("--device {}: expected cpu or cuda", args.device));
    if (args.device == "cuda" && !cuda_backend_built())
      bad_input("--device cuda: this build has no CUDA backend (it was configured where no nvcc >= 12 was found)");
    if (args.threads > 0) omp_set_num_threads(args.threads);
    LoadedCheckpoint ck = load_checkpoint(args.checkpoint);
    if (args.device == "cuda")
      for (const MixerSpec& spec : ck.model->config().mixers)
        if (!has_gpu_mixer(spec.name))
          bad_input(fmt::format("{}: mixer '{}' has no CUDA implementation; use --device cpu", ck.path.string(),
                                spec.name));
    const ModelConfig& mc = ck.model->config();
    const std::string in = args.tokens.string();

    std::error_code ec;
    if (!fs::exists(args.tokens, ec)) bad_input(fmt::format("{}: no such tokens file", in));
    // the logits must never replace an input (a trained model overwritten by logits is lost)
    for (const fs::path& input : {ck.path, args.tokens})
      if (fs::exists(args.out, ec) && fs::equivalent(args.out, input, ec))
        bad_input(fmt::format("{}: --out is the input file {}; refusing to overwrite it", args.out.string(), input.string()));
    SafetensorsFile tf;
    try {
      tf = read_safetensors(in);
    } catch (const std::exception& e) {
      bad_input(naming(args.tokens, e.what()));
    }
    if (!tf.has("tokens")) bad_input(fmt::format("{}: no tensor 'tokens' (expected I64 or I32 [B,T])", in));
    const SafeTensor& t = tf.at("tokens");
    if (t.dtype != SafeDtype::I64 && t.dtype != SafeDtype::I32)
      bad_input(fmt::format("{}: tensor 'tokens' has dtype {}; token ids must be I64 or I32", in,
                            safetensors_dtype_name(t.dtype)));
    if (t.shape.size() != 2 || t.shape[0] < 1 || t.shape[1] < 1)
      bad_input(fmt::format("{}: tensor 'tokens' has shape [{}]; expected [B,T] with B, T >= 1", in,
                            fmt::join(t.shape, ",")));
    const int64_t B = t.shape[0], T = t.shape[1];
    if (B > INT32_MAX || T > INT32_MAX) bad_input(fmt::format("{}: tensor 'tokens' is too large", in));
    if (auto limit = position_limit(*ck.model); limit && T > *limit)
      bad_input(fmt::format("{}: sequences of {} tokens, but the model ({}) has learned positions for only {}", in, T,
                            ck.path.string(), *limit));
    const std::vector<int64_t> ids = t.to_i64();
    std::vector<int32_t> tokens(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= mc.vocab_size)
        bad_input(fmt::format("{}: tokens[{}][{}] = {} is outside the model's vocabulary [0, {})", in,
                              int64_t(i) / T, int64_t(i) % T, ids[i], mc.vocab_size));
      tokens[i] = static_cast<int32_t>(ids[i]);
    }

    std::vector<real> logits(size_t(B) * T * mc.vocab_size);
    if (args.device == "cuda")
      logits_on_gpu(ck, tokens.data(), static_cast<int>(B), static_cast<int>(T), logits.data());
    else
      ck.model->forward_logits(tokens.data(), static_cast<int>(B), static_cast<int>(T), logits.data());
    const std::vector<float> values(logits.begin(), logits.end());

    // the recipe travels with the logits, so the other side knows which model and task produced
    // them; the format keys are replaced so the file is never mistaken for a loadable model checkpoint
    std::map<std::string, std::string> meta = ck.metadata;
    meta["model_format"] = kModelRecipeFormat;
    meta["format"] = kLogitsFormat;
    meta[kRecipeFormatKey] = kLogitsFormat;
    meta["checkpoint"] = ck.path.string();
    meta["tokens_file"] = in;
    write_safetensors(args.out.string(), {{"logits", SafeTensor::from_f32({B, T, mc.vocab_size}, values)}}, meta);
    err << fmt::format("wrote {}: logits [{},{},{}]\n", args.out.string(), B, T, mc.vocab_size);
    return 0;
  } catch (const InferenceInputError& e) {
    err << "error: " << e.what() << '\n';
    return 2;
  }
}

}  // namespace db
