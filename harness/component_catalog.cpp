// component_catalog.cpp: lookups and the registry-backed catalog (see component_catalog.h).
#include "harness/component_catalog.h"

#include "models/core/registry.h"
#include "tasks/task.h"

namespace db {

const CatalogTask* ComponentCatalog::find_task(const std::string& name) const {
  for (const auto& t : tasks)
    if (t.name == name) return &t;
  return nullptr;
}

const CatalogMixer* ComponentCatalog::find_mixer(const std::string& name) const {
  for (const auto& m : mixers)
    if (m.name == name) return &m;
  return nullptr;
}

std::vector<std::string> ComponentCatalog::task_names() const {
  std::vector<std::string> names;
  for (const auto& t : tasks) names.push_back(t.name);
  return names;
}

std::vector<std::string> ComponentCatalog::mixer_names() const {
  std::vector<std::string> names;
  for (const auto& m : mixers) names.push_back(m.name);
  return names;
}

ComponentCatalog registry_catalog() {
  ComponentCatalog catalog;
  for (const TaskEntry* entry : task_registry()) {
    // constructing the task runs its cross-field checks (e.g. 4 * num_kv_pairs <= seq_len)
    auto create = entry->create;
    catalog.tasks.push_back(
        {entry->name, entry->options, [create](const Options& o) { (void)create(o); }, entry->required_backbone});
  }
  for (const MixerEntry* entry : mixer_registry()) catalog.mixers.push_back({entry->name, entry->options});
  return catalog;
}

}  // namespace db
