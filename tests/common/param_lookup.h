// param_lookup.h: a named parameter's values in an arena, for tests that write a layer's math out
// by hand from its weights.
#pragma once

#include <stdexcept>
#include <string>

#include "models/core/params.h"

namespace db::test {

// the first value of parameter `name` (its full scoped name, e.g. "q_proj.weight"); throws when the
// arena has no such parameter, so a renamed weight fails the test instead of reading elsewhere
inline const real* param(const ParamArena& arena, const std::string& name) {
  const int i = arena.find(name);
  if (i < 0) throw std::out_of_range("no parameter named '" + name + "'");
  return arena.data() + arena.params()[static_cast<size_t>(i)].offset;
}

}  // namespace db::test
