// inference.cpp: placeholder for eval/forward until the checkpoint loader lands (see inference.h).
#include "harness/inference.h"

namespace db {

int eval_command(const EvalArgs&, std::ostream&, std::ostream& err) {
  err << "error: deltabench eval: not implemented yet\n";
  return 1;
}

int forward_command(const ForwardArgs&, std::ostream&, std::ostream& err) {
  err << "error: deltabench forward: not implemented yet\n";
  return 1;
}

}  // namespace db
