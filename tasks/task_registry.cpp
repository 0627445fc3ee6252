// task_registry.cpp: the table of benchmark tasks. Adding a task = its entry function, declared in
// the task's header, and one line in the table below.
#include <fmt/format.h>

#include "tasks/mad/mad_task.h"
#include "tasks/mqar.h"
#include "tasks/state_tracking/state_tracking.h"
#include "tasks/task.h"

namespace db {

const std::vector<const TaskEntry*>& task_registry() {
  static const std::vector<const TaskEntry*> table = {
      // associative recall and MAD
      mqar_task_entry(),
      in_context_recall_task_entry(),
      noisy_in_context_recall_task_entry(),
      fuzzy_in_context_recall_task_entry(),
      selective_copying_task_entry(),
      compression_task_entry(),
      memorization_task_entry(),

      // state tracking
      parity_task_entry(),
      modular_arithmetic_task_entry(),
      modular_arithmetic_brackets_task_entry(),
      word_problem_task_entry(),

  };
  return table;
}

const TaskEntry* find_task(const std::string& name) {
  for (const auto* e : task_registry())
    if (e->name == name) return e;
  return nullptr;
}

std::unique_ptr<Task> create_task(const std::string& name, const std::map<std::string, OptionValue>& overrides) {
  const TaskEntry* entry = find_task(name);
  if (!entry) {
    std::vector<std::string> names;
    for (const auto* e : task_registry()) names.push_back(e->name);
    const std::string hint = closest_match(name, names);
    throw ConfigError("name", hint.empty() ? fmt::format("unknown task '{}'", name)
                                           : fmt::format("unknown task '{}' (did you mean '{}'?)", name, hint));
  }
  return entry->create(Options::resolve(entry->options, overrides));
}

}  // namespace db
