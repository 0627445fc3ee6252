// schedule.h: learning-rate schedules used by the published protocols.
//   constant      lr throughout
//   cosine        linear warm-up over warmup steps, then cosine from lr to min_lr per step
//                 (Grazzi et al., DeltaProduct)
//   cosine_epoch  cosine from lr to min_lr stepped once per epoch, no warm-up (PyTorch's
//                 CosineAnnealingLR with T_max = epochs, as Zoology and MAD use it)
#pragma once

#include <cstdint>
#include <string>

namespace db {

struct LrSchedule {
  std::string kind = "constant";  // constant | cosine | cosine_epoch
  double lr = 1e-3;
  double min_lr = 0.0;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  int64_t steps_per_epoch = 1;
  int64_t epochs = 1;

  // learning rate for optimizer step `step` (0-based)
  double at(int64_t step) const;
};

}  // namespace db
