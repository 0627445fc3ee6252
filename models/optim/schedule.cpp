// schedule.cpp: see schedule.h.
#include "models/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace db {

double LrSchedule::at(int64_t step) const {
  if (kind == "constant") return lr;
  if (kind == "cosine") {
    if (warmup_steps > 0 && step < warmup_steps) return lr * static_cast<double>(step + 1) / warmup_steps;
    const int64_t decay_steps = std::max<int64_t>(1, total_steps - warmup_steps);
    const double progress = std::clamp(static_cast<double>(step - warmup_steps) / decay_steps, 0.0, 1.0);
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + std::cos(M_PI * progress));
  }
  if (kind == "cosine_epoch") {
    const int64_t epoch = step / std::max<int64_t>(1, steps_per_epoch);
    const double progress = std::clamp(static_cast<double>(epoch) / std::max<int64_t>(1, epochs), 0.0, 1.0);
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + std::cos(M_PI * progress));
  }
  throw std::invalid_argument("unknown schedule '" + kind + "'");
}

}  // namespace db
