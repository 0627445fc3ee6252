// short_conv.h: fla's ShortConvolution on the GPU, a causal depthwise conv with an optional SiLU.
//
// Device half of models/layers/short_conv.h for training: every sequence starts from the zero
// state (no state is carried on the GPU), so with w [C,W] the Conv1d weight [C,1,W]:
//   z[b,t,c] = sum_{i<W} w[c,i] x[b, t-W+1+i, c]  (x = 0 before t = 0),   y = silu(z) or z.
// The forward keeps z (when SiLU) for the backward; the input x must be kept by the caller too
// (the weight gradient reads it). The weight gradient sums over the B*T rows in fixed runs of
// kShortConvRowsPerPartial rows, then the runs' partial sums in a fixed order (column_sums.h): no
// atomics, the same bits every run.
// x and z are activations, float or bf16 (bf16.h); y, the gradients and the arithmetic are fp32.
// Shapes: B batch, T time, C channels, W kernel size.
#pragma once

#include "models/cuda/column_sums.h"
#include "models/cuda/runtime.h"

namespace db::cuda {

// the widest kernel the GPU's weight-gradient kernel takes (fla's short convolutions are 2 to 4 wide)
inline constexpr int kMaxShortConvTaps = 8;
// rows per partial sum of the weight gradient: short runs, so that a step's rows give many threads
inline constexpr int kShortConvRowsPerPartial = 16;

// x [B,T,C], w [C,W] -> y [B,T,C] (must not alias x); with silu, z [B,T,C] receives the
// pre-activation (null without silu)
void short_conv_forward(const Context& ctx, const float* x, const float* w, float* y, float* z, int B, int T, int C,
                        int W, bool silu);
void short_conv_forward(const Context& ctx, const bf16* x, const float* w, float* y, bf16* z, int B, int T, int C,
                        int W, bool silu);
// x, w and (with silu) z from the forward, dy [B,T,C] -> dx [B,T,C] (overwritten; must not alias
// dy); dw [C,W] += sum over (b,t) of dz[b,t,c] x[b,t-W+1+i,c], dz = dy silu'(z) or dy; W at most
// kMaxShortConvTaps (std::invalid_argument beyond).
// dz grows to [B,T,C] (with silu), partials to [ceil(B*T / kShortConvRowsPerPartial), C*W].
void short_conv_backward(const Context& ctx, const float* x, const float* w, const float* z, const float* dy,
                         float* dx, float* dw, int B, int T, int C, int W, bool silu, DeviceBuffer<float>& dz,
                         DeviceBuffer<float>& partials);
void short_conv_backward(const Context& ctx, const bf16* x, const float* w, const bf16* z, const float* dy,
                         float* dx, float* dw, int B, int T, int C, int W, bool silu, DeviceBuffer<float>& dz,
                         DeviceBuffer<float>& partials);

}  // namespace db::cuda
