// config_checks.cpp: impossible-value checks for the model and train sections (see config_checks.h).
#include "harness/config/config_checks.h"

#include <fmt/format.h>

#include "harness/config/yaml_values.h"

namespace db {

namespace {

void int_at_least(const Options& o, const std::string& key, int64_t min) {
  if (!o.has(key)) return;
  const int64_t v = o.get_int(key);
  if (v < min) throw ConfigError(key, fmt::format("must be at least {}, got {}", min, v));
}

void float_at_least(const Options& o, const std::string& key, double min, bool strictly = false) {
  if (!o.has(key)) return;
  const double v = o.get_double(key);
  if (!(strictly ? v > min : v >= min))  // also rejects nan
    throw ConfigError(key, fmt::format("must be {} {}, got {}", strictly ? "greater than" : "at least",
                                       double_text(min), double_text(v)));
}

void float_below(const Options& o, const std::string& key, double max) {
  if (!o.has(key)) return;
  const double v = o.get_double(key);
  if (!(v < max)) throw ConfigError(key, fmt::format("must be less than {}, got {}", double_text(max), double_text(v)));
}

}  // namespace

void check_model_values(const Options& m) {
  int_at_least(m, "d_model", 1);
  int_at_least(m, "n_layers", 1);
  int_at_least(m, "mlp_hidden", 0);
  float_at_least(m, "norm_eps", 0.0, true);
  float_at_least(m, "init_std", 0.0);
  if (m.has("layout") && m.has("mlp") && m.get_string("layout") == "alternate" && m.get_string("mlp") == "none")
    throw ConfigError("mlp", "layout 'alternate' alternates mixer and MLP layers; it needs mlp: swiglu");
}

void check_train_values(const Options& t) {
  float_at_least(t, "lr", 0.0, true);
  float_at_least(t, "weight_decay", 0.0);
  float_at_least(t, "eps", 0.0, true);
  float_at_least(t, "min_lr", 0.0);
  if (t.has("min_lr") && t.has("lr") && t.get_double("min_lr") > t.get_double("lr"))
    throw ConfigError("min_lr", fmt::format("must not exceed train.lr ({})", double_text(t.get_double("lr"))));
  if (t.has("betas")) {
    const auto& betas = t.get_list("betas");
    if (betas.size() != 2) throw ConfigError("betas", fmt::format("must be two numbers [beta1, beta2], got {}", betas.size()));
    for (double b : betas)
      if (!(b >= 0.0 && b < 1.0)) throw ConfigError("betas", fmt::format("each beta must lie in [0, 1), got {}", double_text(b)));
  }
  int_at_least(t, "warmup_steps", 0);
  float_at_least(t, "warmup_fraction", 0.0);
  float_below(t, "warmup_fraction", 1.0);
  int_at_least(t, "batch_size", 1);
  int_at_least(t, "eval_batch_size", 0);
  int_at_least(t, "epochs", 0);
  int_at_least(t, "steps", 0);
  if (t.has("epochs") && t.has("steps")) {
    const int64_t epochs = t.get_int("epochs"), steps = t.get_int("steps");
    if (epochs == 0 && steps == 0) throw ConfigError("epochs", "set train.epochs or train.steps (both are 0)");
    if (epochs > 0 && steps > 0) throw ConfigError("steps", "set only one of train.epochs and train.steps");
  }
  float_at_least(t, "grad_clip", 0.0);
  float_at_least(t, "early_stop", 0.0);
  int_at_least(t, "eval_interval", 0);
  int_at_least(t, "eval_examples", 0);
  int_at_least(t, "checkpoint_interval", 0);
  int_at_least(t, "threads", 0);
  if (t.has("precision") && t.get_string("precision") == "bf16" && t.has("device") && t.get_string("device") != "cuda")
    throw ConfigError("precision", "bf16 runs on the GPU backend only (train.device: cuda); the CPU path is the fp32 reference");
}

}  // namespace db
