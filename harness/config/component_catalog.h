// component_catalog.h: the tasks and mixers a config may name, as the config resolver sees them.
//
// The resolver validates task.<key> and model.mixer.<key> against the registries' own entries (the
// option specs and the task's constructor, which runs its cross-field checks). In the program the
// catalog is the registries (registry_catalog()); tests pass entries of their own, so that config
// handling is tested independently of the real tasks and mixers.
#pragma once

#include <string>
#include <vector>

#include "models/core/registry.h"
#include "tasks/task.h"

namespace db {

struct ComponentCatalog {
  std::vector<const TaskEntry*> tasks;
  std::vector<const MixerEntry*> mixers;

  const TaskEntry* find_task(const std::string& name) const;
  const MixerEntry* find_mixer(const std::string& name) const;
  std::vector<std::string> task_names() const;
  std::vector<std::string> mixer_names() const;
};

// the task and mixer registries
ComponentCatalog registry_catalog();

}  // namespace db
