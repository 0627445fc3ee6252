// task_registry.cpp: the table of benchmark tasks. A task's .cpp defines its `extern const TaskEntry
// <name>_task_entry`; adding a task = one line in the table below (as for mixers and layer modules).
#include <fmt/format.h>

#include "common/registry_entry.h"
#include "tasks/task.h"

namespace db {

// DELTABENCH_TASK(x) is &x_task_entry, defined in the task's .cpp (common/registry_entry.h)
#define DELTABENCH_TASK(name) DELTABENCH_ENTRY(TaskEntry, name##_task_entry)

const std::vector<const TaskEntry*>& task_registry() {
  static const std::vector<const TaskEntry*> table = {
      // associative recall and MAD
      DELTABENCH_TASK(mqar),
      DELTABENCH_TASK(in_context_recall),
      DELTABENCH_TASK(noisy_in_context_recall),
      DELTABENCH_TASK(fuzzy_in_context_recall),
      DELTABENCH_TASK(selective_copying),
      DELTABENCH_TASK(compression),
      DELTABENCH_TASK(memorization),

      // state tracking
      DELTABENCH_TASK(parity),
      DELTABENCH_TASK(modular_arithmetic),
      DELTABENCH_TASK(modular_arithmetic_brackets),
      DELTABENCH_TASK(word_problem),
  };
  return table;
}

#undef DELTABENCH_TASK

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
    throw ConfigError("name", fmt::format("unknown task '{}'{}", name, suggestion(name, names)));
  }
  return entry->create(Options::resolve(entry->options, overrides));
}

}  // namespace db
