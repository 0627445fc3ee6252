// projected_recurrence.h: the GPU kernels that move a projected-recurrence layer's streams between
// projection layout and kernel layout, with the write strength and the forget gate on the way.
//
// Projection layout is what the Linear layers produce: [B*T, n_h*H*W], row b*T+t, column
// j*H*W + h*W + w (sub-step j, head h). Kernel layout is what the recurrences read: [B*H, T*n_h, W],
// sequence b*H+h, position t*n_h+j. The maths is models/mixers/projected_recurrence_layer.cpp's:
//   beta = c sigmoid(b_proj x)                          c = 2 for eigenvalues in [-1, 1]
//   g    = -exp(A_log[h]) softplus(a_proj x + dt_bias[h])
// Plain pointers and a stream only, so nvcc never sees the C++20 host headers.
#pragma once

#include "models/cuda/runtime.h"

namespace db::cuda {

// src [B*T, n_h*H*W] -> dst [B*H, T*n_h, W]
void to_heads(const Context& ctx, const float* src, float* dst, int B, int T, int H, int n_h, int W);
// src [B*H, T*n_h, W] -> dst [B*T, n_h*H*W] (overwritten)
void from_heads(const Context& ctx, const float* src, float* dst, int B, int T, int H, int n_h, int W);

// to_heads, then each W-wide row L2-normalised (l2norm.h's y = x / sqrt(sum x^2 + eps)) in the same
// pass: src [B*T, n_h*H*W] -> dst [B*H, T*n_h, W], rstd [B*H*T*n_h]
void to_heads_l2norm(const Context& ctx, const float* src, float* dst, float* rstd, int B, int T, int H, int n_h, int W,
                     float eps);
// the L2 norm's backward (dx = rstd (dy - (dy . y) y)) and from_heads in one pass: y, rstd from
// to_heads_l2norm, dy [B*H, T*n_h, W] -> dst [B*T, n_h*H*W] (overwritten)
void l2norm_backward_from_heads(const Context& ctx, const float* y, const float* rstd, const float* dy, float* dst,
                                int B, int T, int H, int n_h, int W);

// bp [B*T, n_h*H] -> beta [B*H, T*n_h] = c sigmoid(bp)
void beta_forward(const Context& ctx, const float* bp, float* beta, int B, int T, int H, int n_h, float c);
// beta (forward output), dbeta [B*H, T*n_h] -> dbp [B*T, n_h*H] (overwritten)
void beta_backward(const Context& ctx, const float* beta, const float* dbeta, float* dbp, int B, int T, int H, int n_h,
                   float c);

// ap [B*T, H], A_log [H], dt_bias [H] -> g [B*H, T] and z = ap + dt_bias [B*H, T] (kept for the backward)
void gate_forward(const Context& ctx, const float* ap, const float* A_log, const float* dt_bias, float* g, float* z,
                  int B, int T, int H);
// g, z from the forward, dg [B*H, T] -> dap [B*T, H] (overwritten); dA_log [H] and ddt_bias [H] accumulate,
// each summed per sequence over t in double, then over b in order (as the CPU); partials grows to [2*B*H]
void gate_backward(const Context& ctx, const float* g, const float* z, const float* dg, const float* A_log, float* dap,
                   float* dA_log, float* ddt_bias, int B, int T, int H, DeviceBuffer<float>& partials);

// y [n] = 1 (beta when the mixer has no learned write strength)
void fill(const Context& ctx, float* y, size_t n, float value);

}  // namespace db::cuda
