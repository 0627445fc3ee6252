// module.h: the contract every layer and token mixer implements.
//
// A Module maps [B,T,in_dim] -> [B,T,out_dim]. forward() keeps whatever backward() needs (caches
// are members, resized on use, so a training loop allocates nothing after its first step).
// backward() OVERWRITES dx and ADDS into parameter gradients (the arena's grad buffer), so several
// backward calls between zero_grad() calls accumulate, as in llm.c. Calls are strictly paired:
// backward() refers to the most recent forward().
//
// A Mixer is a Module with d_model -> d_model that can also carry a recurrent state between calls:
// state_in [B,S] (null = zeros) and state_out [B,S] (null = not wanted), with S = state_size().
// Its backward takes dstate_out (null = zero) and writes dstate_in (null = not wanted). Splitting a
// sequence in two and carrying the state gives the same outputs as one call.
#pragma once

#include <cstdint>
#include <string>

#include "models/core/types.h"

namespace db {

class Module {
 public:
  virtual ~Module() = default;
  virtual int in_dim() const = 0;
  virtual int out_dim() const = 0;
  // x [B,T,in_dim] -> y [B,T,out_dim]
  virtual void forward(const real* x, real* y, int B, int T) = 0;
  // dy [B,T,out_dim] -> dx [B,T,in_dim] (overwritten); parameter gradients accumulate
  virtual void backward(const real* dy, real* dx) = 0;
};

class Mixer : public Module {
 public:
  // numbers carried per sequence between calls (recurrent matrices and short-conv tails);
  // 0 when the mixer cannot carry a fixed-size state (softmax attention without a window)
  virtual int64_t state_size() const = 0;
  // the number a results table reports at a given sequence length (Zoology's state_size):
  // the recurrent matrices for linear mixers, the KV cache for attention
  virtual int64_t reported_state_size(int seq_len) const { return state_size(); }

  // x [B,T,D] -> y [B,T,D]; state_in [B,S] or null (zeros); state_out [B,S] or null
  virtual void forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) = 0;
  // dy [B,T,D], dstate_out [B,S] or null -> dx [B,T,D] (overwritten), dstate_in [B,S] or null (overwritten)
  virtual void backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) = 0;

  void forward(const real* x, real* y, int B, int T) override { forward_stateful(x, y, B, T, nullptr, nullptr); }
  void backward(const real* dy, real* dx) override { backward_stateful(dy, nullptr, dx, nullptr); }
};

}  // namespace db
