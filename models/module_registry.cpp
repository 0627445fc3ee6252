// module_registry.cpp: the table of layer modules that the generic gradient check covers.
// Adding a layer = one line here (its entry is defined next to the layer, in models/layers/).
#include "models/core/registry.h"

namespace db {

extern const ModuleEntry linear_module_entry;
extern const ModuleEntry rmsnorm_module_entry;
extern const ModuleEntry layernorm_module_entry;
extern const ModuleEntry short_conv_module_entry;
extern const ModuleEntry short_conv_linear_module_entry;
extern const ModuleEntry swiglu_mlp_module_entry;
extern const ModuleEntry l2norm_module_entry;
extern const ModuleEntry head_norm_module_entry;
extern const ModuleEntry head_norm_gated_module_entry;
extern const ModuleEntry position_embedding_module_entry;
extern const ModuleEntry rope_module_entry;
extern const ModuleEntry compression_decoder_module_entry;

const std::vector<const ModuleEntry*>& module_registry() {
  static const std::vector<const ModuleEntry*> table = {
      &linear_module_entry,
      &rmsnorm_module_entry,
      &layernorm_module_entry,
      &short_conv_module_entry,
      &short_conv_linear_module_entry,
      &swiglu_mlp_module_entry,
      &l2norm_module_entry,
      &head_norm_module_entry,
      &head_norm_gated_module_entry,
      &position_embedding_module_entry,
      &rope_module_entry,
      &compression_decoder_module_entry,
  };
  return table;
}

}  // namespace db
