// list.cpp: the `list` subcommand (see list.h).
#include "harness/commands/list.h"

#include <fmt/format.h>

#include "harness/config/config_schema.h"
#include "harness/config/yaml_values.h"
#include "models/core/registry.h"
#include "tasks/task.h"

namespace db {

namespace {

std::string choices_text(const OptionSpec& spec) {
  std::string out;
  for (const auto& c : spec.choices) out += (out.empty() ? "" : ", ") + c;
  return out;
}

void print_specs(std::ostream& out, const std::string& prefix, const OptionSpecs& specs, bool markdown) {
  if (specs.empty()) {
    out << (markdown ? "_no keys_\n\n" : "      (no keys)\n");
    return;
  }
  if (markdown) {
    out << "| key | default | description |\n|---|---|---|\n";
    for (const auto& s : specs) {
      std::string help = s.help;
      if (!s.choices.empty()) help += " (one of: " + choices_text(s) + ")";
      for (auto& c : help)
        if (c == '|') c = '/';
      out << fmt::format("| `{}{}` | `{}` | {} |\n", prefix, s.key, value_text(s.default_value), help);
    }
    out << "\n";
    return;
  }
  size_t width = 0, def_width = 0;
  for (const auto& s : specs) {
    width = std::max(width, prefix.size() + s.key.size());
    def_width = std::max(def_width, value_text(s.default_value).size());
  }
  for (const auto& s : specs) {
    std::string help = s.help;
    if (!s.choices.empty()) help += " {" + choices_text(s) + "}";
    out << fmt::format("      {:<{}}  {:<{}}  {}\n", prefix + s.key, width, value_text(s.default_value), def_width, help);
  }
}

}  // namespace

int list_command(bool markdown, std::ostream& out) {
  const char* h2 = markdown ? "### " : "";
  out << h2 << "Tasks (task.name)\n" << (markdown ? "\n" : "");
  if (task_registry().empty()) out << "  (none registered)\n";
  for (const TaskEntry* t : task_registry()) {
    out << (markdown ? fmt::format("#### `{}`\n\n{}\n\n", t->name, t->description)
                     : fmt::format("  {}: {}\n", t->name, t->description));
    print_specs(out, "task.", t->options, markdown);
  }
  out << "\n" << h2 << "Mixers (model.mixer.name)\n" << (markdown ? "\n" : "");
  if (mixer_registry().empty()) out << "  (none registered)\n";
  for (const MixerEntry* m : mixer_registry()) {
    out << (markdown ? fmt::format("#### `{}`\n\n{}\n\n", m->name, m->description)
                     : fmt::format("  {}: {}\n", m->name, m->description));
    print_specs(out, "model.mixer.", m->options, markdown);
  }
  out << "\n" << h2 << "Model keys (model.<key>)\n" << (markdown ? "\n" : "");
  print_specs(out, "model.", model_option_specs(), markdown);
  out << "\n" << h2 << "Training keys (train.<key>)\n" << (markdown ? "\n" : "");
  print_specs(out, "train.", train_option_specs(), markdown);
  return 0;
}

}  // namespace db
