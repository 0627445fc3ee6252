// trainer.cpp: placeholder until the model lands; see trainer.h.
#include "harness/trainer.h"

#include <stdexcept>

namespace db {
RunOutcome train_run(const ResolvedConfig&, const std::filesystem::path&, const TrainHooks&) {
  throw std::runtime_error("train_run: not implemented yet");
}
}  // namespace db
