// list.h: `deltabench list [--markdown]`: every task, mixer, model.* and train.* key.
//
// Printed straight from the registries and config_schema.h, so it is always current. --markdown
// prints the tables pasted into docs/yaml-reference.md.
#pragma once

#include <ostream>

namespace db {

int list_command(bool markdown, std::ostream& out);

}  // namespace db
