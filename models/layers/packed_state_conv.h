// packed_state_conv.h: a ShortConv whose carried tail lives inside a mixer's packed state.
//
// A mixer carries one [B, S] state per call (module.h); when it has a short convolution, the conv's
// [(W-1) * C] tail is one slice of each row, at a fixed offset after the mixer's own recurrent
// numbers. This moves that slice in and out around the conv's forward and backward, so a mixer
// needs one call each way instead of repeating the copies (the xLSTM cells use it).
#pragma once

#include <cstdint>

#include "models/layers/short_conv.h"

namespace db {

class PackedStateConv {
 public:
  // conv: the mixer's ShortConv over C channels with kernel size W
  explicit PackedStateConv(ShortConv& conv) : conv_(conv) {}

  // x [B,T,C] -> y [B,T,C]; the tail is read from state_in [B,S] (or zeros when null) and written to
  // state_out [B,S] (when not null), at columns [offset, offset + tail_size()) of each row
  void forward(const real* x, real* y, int B, int T, const real* state_in, real* state_out, int64_t S,
               int64_t offset);
  // dy [B,T,C] -> dx [B,T,C] += the conv's input gradient; dstate_out [B,S] or null gives the tail's
  // gradient, dstate_in [B,S] or null receives it, at the same columns
  void backward_accumulate(const real* dy, const real* dstate_out, real* dx, real* dstate_in);

  int64_t tail_size() const { return conv_.state_size(); }

 private:
  ShortConv& conv_;
  int B_ = 0;
  int64_t rows_ = 0, S_ = 0, offset_ = 0;
  RealVector tail_in_, tail_out_;    // [B, tail] the tails in and out of the forward
  RealVector dtail_out_, dtail_in_;  // [B, tail] their gradients
  RealVector dx_;                    // [B*T, C] the conv's own input gradient
};

}  // namespace db
