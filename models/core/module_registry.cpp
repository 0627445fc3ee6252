// module_registry.cpp: the table of layer modules that the generic gradient check covers (the tests
// add wrappers of numerics that are not modules: tests/common/gradcheck_wrappers.h).
// Adding a layer = one line here (its entry is defined next to the layer, in models/layers/).
#include "common/registry_entry.h"
#include "models/core/registry.h"

namespace db {

// DELTABENCH_MODULE(x) is &x_module_entry, defined next to the layer (common/registry_entry.h)
#define DELTABENCH_MODULE(name) DELTABENCH_ENTRY(ModuleEntry, name##_module_entry)

const std::vector<const ModuleEntry*>& module_registry() {
  static const std::vector<const ModuleEntry*> table = {
      DELTABENCH_MODULE(linear),
      DELTABENCH_MODULE(rmsnorm),
      DELTABENCH_MODULE(layernorm),
      DELTABENCH_MODULE(multi_head_layernorm),
      DELTABENCH_MODULE(short_conv),
      DELTABENCH_MODULE(short_conv_linear),
      DELTABENCH_MODULE(swiglu_mlp),
      DELTABENCH_MODULE(position_embedding),
      DELTABENCH_MODULE(compression_decoder),
  };
  return table;
}

#undef DELTABENCH_MODULE

}  // namespace db
