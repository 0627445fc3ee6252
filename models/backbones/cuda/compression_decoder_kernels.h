// compression_decoder_kernels.h: the element-wise steps of MAD's compression decoder on the GPU
// (models/backbones/compression_decoder.h), between its norms and GEMMs.
//
// The decoder rebuilds every position of a sequence from the encoder's last one, so its input is a
// broadcast and its input gradient a sum over positions; the sum runs over t in order, one thread
// per (sequence, channel), so the bits do not depend on scheduling. Plain pointers and a stream.
// Shapes: B sequences, T positions, D channels; rows = B*T.
#pragma once

#include "models/cuda/runtime.h"

namespace db::cuda {

// z [B,T,D] = x[b, T-1, :] + pe[t, :], pe the decoder's sin-cos table (compression_decoder.h), each
// entry evaluated in double where it is used, as the CPU builds its table, so no table is kept
void decoder_broadcast_last(const Context& ctx, const float* x, float* z, int B, int T, int D);
// dx [B,T,D] = 0 except dx[b, T-1, :] = sum over t of dz[b, t, :]
void decoder_broadcast_last_backward(const Context& ctx, const float* dz, float* dx, int B, int T, int D);
// y [n] = gelu(x [n]) (exact erf form, as models/numerics/activations.h)
void gelu_forward(const Context& ctx, const float* x, float* y, long long n);
// dx [n] = dy [n] * gelu'(x [n]) (dx may alias dy)
void gelu_backward(const Context& ctx, const float* x, const float* dy, float* dx, long long n);

}  // namespace db::cuda
