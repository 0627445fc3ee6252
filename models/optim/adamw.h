// adamw.h: AdamW over the flat parameter arena, with global gradient-norm clipping.
//
// Decoupled weight decay as in PyTorch's AdamW (p <- p - lr*wd*p, then the Adam step with bias
// correction), applied only to parameters whose ParamInfo says weight_decay (not norms, biases,
// A_log, dt_bias). Reductions use a fixed blocking so the result does not depend on how many
// OpenMP threads run; the moments live in two buffers laid out like the arena, so a checkpoint
// saves them as they are.
#pragma once

#include <cstdint>
#include <vector>

#include "models/core/params.h"

namespace db {

struct AdamWConfig {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class AdamW {
 public:
  AdamW(ParamArena& arena, AdamWConfig config);
  // one update with learning rate lr from the gradients in the arena
  void step(double lr);
  int64_t steps_taken() const { return step_; }
  const AdamWConfig& config() const { return config_; }

  // state for checkpoints: step count and both moment buffers (each arena.size() long)
  RealVector& first_moment() { return m_; }
  RealVector& second_moment() { return v_; }
  void set_steps_taken(int64_t s) { step_ = s; }
  // back to the state of a fresh optimizer
  void reset();

 private:
  ParamArena& arena_;
  AdamWConfig config_;
  RealVector m_, v_;     // [arena.size()]
  std::vector<uint8_t> decay_;  // [arena.size()] 1 where weight decay applies
  int64_t step_ = 0;
};

// global L2 norm of the gradient buffer, summed in a fixed order
double gradient_norm(const ParamArena& arena);
// scale gradients so their global norm is at most max_norm; returns the norm before clipping
double clip_gradient_norm(ParamArena& arena, double max_norm);

}  // namespace db
