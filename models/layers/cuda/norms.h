// norms.h: the row norms on the GPU: RMSNorm, LayerNorm, and the mixers' (gated) per-head RMSNorm.
//
// Device halves of models/layers/rmsnorm.h, layernorm.h and head_norm.h, same maths and the same
// saved quantities (rstd; LayerNorm's xhat). An RMSNorm forward runs a warp per row, a LayerNorm
// forward a block per row; a backward runs one block per kRowsPerPartial rows (column_sums.h), so
// each block writes one fixed partial of the parameter gradients and the partials are added in a
// fixed order: no atomics, the same bits every run.
// The head norm is the RMSNorm of the [rows*H, V] view with an optional SiLU gate fused in.
// Plain device pointers, all on ctx's stream. dim (D or V) at most 12000 (RMSNorm, head norm) or 6000
// (LayerNorm): a backward block keeps its gradient partial in shared memory (std::invalid_argument
// beyond that).
// The head norm also comes in a bf16 form (bf16 runs, bf16.h): o, gate and y stored as bf16, the
// arithmetic, rstd and every gradient fp32.
// Shapes: rows = B*T (or B*T*H for the head norm), dim = D (or V).
#pragma once

#include "models/cuda/column_sums.h"
#include "models/cuda/runtime.h"

namespace db::cuda {

// x [rows,dim], w [dim] -> y [rows,dim] (may alias x), rstd [rows] = 1/sqrt(mean(x^2)+eps)
void rmsnorm_forward(const Context& ctx, const float* x, const float* w, float* y, float* rstd, long long rows,
                     int dim, float eps);
// x, rstd from the forward, dy [rows,dim] -> dx [rows,dim] (overwritten; may alias dy);
// dw [dim] += sum_rows dy x rstd (skipped when null); partials grows to [partial_count(rows), dim]
void rmsnorm_backward(const Context& ctx, const float* x, const float* w, const float* rstd, const float* dy,
                      float* dx, float* dw, long long rows, int dim, DeviceBuffer<float>& partials);

// x [rows,dim], w, b [dim] -> y [rows,dim] (may alias x), xhat [rows,dim] = (x-mean) rstd,
// rstd [rows] = 1/sqrt(var+eps) (biased variance, two passes as the CPU)
void layernorm_forward(const Context& ctx, const float* x, const float* w, const float* b, float* y, float* xhat,
                       float* rstd, long long rows, int dim, float eps);
// xhat, rstd from the forward, dy [rows,dim] -> dx [rows,dim] (overwritten; may alias dy);
// dw [dim] += sum_rows dy xhat, db [dim] += sum_rows dy; partials grows to [2, partial_count(rows), dim]
void layernorm_backward(const Context& ctx, const float* xhat, const float* w, const float* rstd, const float* dy,
                        float* dx, float* dw, float* db, long long rows, int dim, DeviceBuffer<float>& partials);

// Head norm on the [rows*H, V] view (rows = rows*H here, dim = V): y = rmsnorm(o) w (* silu(gate)).
// o, gate [rows,dim] (gate null: no gate), w [dim] -> y [rows,dim] (may alias o), rstd [rows]
void head_norm_forward(const Context& ctx, const float* o, const float* gate, const float* w, float* y, float* rstd,
                       long long rows, int dim, float eps);
void head_norm_forward(const Context& ctx, const bf16* o, const bf16* gate, const float* w, bf16* y, float* rstd,
                       long long rows, int dim, float eps);
// o, gate (null when the forward had none), rstd from the forward, dy [rows,dim] ->
// d_o [rows,dim] (overwritten; may alias dy), dgate [rows,dim] (overwritten; must not alias dy;
// may be null; untouched without a gate), dw [dim] += ...; partials grows to [partial_count(rows), dim]
void head_norm_backward(const Context& ctx, const float* o, const float* gate, const float* w, const float* rstd,
                        const float* dy, float* d_o, float* dgate, float* dw, long long rows, int dim,
                        DeviceBuffer<float>& partials);
void head_norm_backward(const Context& ctx, const bf16* o, const bf16* gate, const float* w, const float* rstd,
                        const float* dy, float* d_o, float* dgate, float* dw, long long rows, int dim,
                        DeviceBuffer<float>& partials);

}  // namespace db::cuda
