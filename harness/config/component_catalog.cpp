// component_catalog.cpp: lookups and the registry-backed catalog (see component_catalog.h).
#include "harness/config/component_catalog.h"

#include <algorithm>

namespace db {

namespace {
template <class Entry>
const Entry* find_by_name(const std::vector<const Entry*>& entries, const std::string& name) {
  auto it = std::find_if(entries.begin(), entries.end(), [&](const Entry* e) { return e->name == name; });
  return it == entries.end() ? nullptr : *it;
}
template <class Entry>
std::vector<std::string> names_of(const std::vector<const Entry*>& entries) {
  std::vector<std::string> names;
  for (const Entry* e : entries) names.push_back(e->name);
  return names;
}
}  // namespace

const TaskEntry* ComponentCatalog::find_task(const std::string& name) const { return find_by_name(tasks, name); }
const MixerEntry* ComponentCatalog::find_mixer(const std::string& name) const { return find_by_name(mixers, name); }
std::vector<std::string> ComponentCatalog::task_names() const { return names_of(tasks); }
std::vector<std::string> ComponentCatalog::mixer_names() const { return names_of(mixers); }

ComponentCatalog registry_catalog() { return {task_registry(), mixer_registry()}; }

}  // namespace db
