// component_catalog.h: what the config resolver needs to know about tasks and mixers.
//
// The resolver validates task.<key> and model.mixer.<key> against these specs. In the program the
// catalog comes from the task and mixer registries; tests build their own so that config handling
// can be tested without (and before) any real task or mixer.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/options.h"

namespace db {

struct CatalogTask {
  std::string name;
  OptionSpecs options;
  // cross-field checks of resolved options; throws ConfigError(key, message); may be empty
  std::function<void(const Options&)> validate;
  std::string required_backbone = {};  // non-empty: the only model.backbone the task allows
};

struct CatalogMixer {
  std::string name;
  OptionSpecs options;
};

struct ComponentCatalog {
  std::vector<CatalogTask> tasks;
  std::vector<CatalogMixer> mixers;

  const CatalogTask* find_task(const std::string& name) const;
  const CatalogMixer* find_mixer(const std::string& name) const;
  std::vector<std::string> task_names() const;
  std::vector<std::string> mixer_names() const;
};

// tasks and mixers of the registries; a task is validated by constructing it (create_task)
ComponentCatalog registry_catalog();

}  // namespace db
