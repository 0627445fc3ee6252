// packed_state_conv.cpp: PackedStateConv (see the header).
#include "models/layers/packed_state_conv.h"

#include <algorithm>

namespace db {

namespace {
// rows [B, tail] <-> columns [offset, offset + tail) of packed rows [B, S]
void gather(const real* packed, int B, int64_t S, int64_t offset, int64_t tail, real* rows) {
  for (int b = 0; b < B; ++b) std::copy_n(packed + b * S + offset, tail, rows + b * tail);
}
void scatter(const real* rows, int B, int64_t S, int64_t offset, int64_t tail, real* packed) {
  for (int b = 0; b < B; ++b) std::copy_n(rows + b * tail, tail, packed + b * S + offset);
}
}  // namespace

void PackedStateConv::forward(const real* x, real* y, int B, int T, const real* state_in, real* state_out, int64_t S,
                              int64_t offset) {
  const int64_t tail = tail_size();
  B_ = B, rows_ = int64_t(B) * T, S_ = S, offset_ = offset;
  if (state_in) {
    tail_in_.resize(size_t(B) * tail);
    gather(state_in, B, S, offset, tail, tail_in_.data());
  }
  if (state_out) tail_out_.resize(size_t(B) * tail);
  conv_.forward_stateful(x, y, B, T, state_in ? tail_in_.data() : nullptr, state_out ? tail_out_.data() : nullptr);
  if (state_out) scatter(tail_out_.data(), B, S, offset, tail, state_out);
}

void PackedStateConv::backward_accumulate(const real* dy, const real* dstate_out, real* dx, real* dstate_in) {
  const int64_t tail = tail_size();
  if (dstate_out) {
    dtail_out_.resize(size_t(B_) * tail);
    gather(dstate_out, B_, S_, offset_, tail, dtail_out_.data());
  }
  if (dstate_in) dtail_in_.resize(size_t(B_) * tail);
  dx_.resize(size_t(rows_) * conv_.in_dim());
  conv_.backward_stateful(dy, dstate_out ? dtail_out_.data() : nullptr, dx_.data(),
                          dstate_in ? dtail_in_.data() : nullptr);
  for (size_t i = 0; i < dx_.size(); ++i) dx[i] += dx_[i];
  if (dstate_in) scatter(dtail_in_.data(), B_, S_, offset_, tail, dstate_in);
}

}  // namespace db
