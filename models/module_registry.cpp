// module_registry.cpp: the table of layer modules that the generic gradient check covers.
// Adding a layer = one line here.
#include "models/core/registry.h"

namespace db {

const std::vector<const ModuleEntry*>& module_registry() {
  static const std::vector<const ModuleEntry*> table = {
  };
  return table;
}

}  // namespace db
