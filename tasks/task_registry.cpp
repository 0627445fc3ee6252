// task_registry.cpp: the table of benchmark tasks. Adding a task = its entry's declaration and one
// line in the table below.
#include <fmt/format.h>

#include "tasks/task.h"

namespace db {

// ---- associative recall and MAD (tasks/mqar.cpp, tasks/mad/*.cpp)

// ---- state tracking (tasks/state_tracking/*.cpp)

const std::vector<const TaskEntry*>& task_registry() {
  static const std::vector<const TaskEntry*> table = {
      // associative recall and MAD

      // state tracking

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
