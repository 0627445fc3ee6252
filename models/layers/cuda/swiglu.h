// swiglu.h: the elementwise halves of SwiGLU and of SiLU on the GPU.
//
// The SwiGLU MLP (swiglu_mlp.h) multiplies silu(gate_proj x) into up_proj x between its GEMMs;
// the mixers apply a plain SiLU where their short conv is off. These are those elementwise steps
// and their backwards on flat buffers, on ctx's stream. The backward recomputes sigmoid from its
// input instead of keeping it (the CPU keeps it to save an exp; here memory traffic is the cost).
// silu(x) = x s, silu'(x) = s (1 + x (1 - s)), s = sigmoid(x). Shapes: n elements (rows*F, or any).
// Activations (the inputs a module keeps, and h) are float or bf16 (bf16.h), the arithmetic and
// every gradient fp32.
#pragma once

#include "models/cuda/runtime.h"

namespace db::cuda {

// g, u [n] -> h [n] = silu(g) u (h may alias g or u)
void swiglu_forward(const Context& ctx, const float* g, const float* u, float* h, long long n);
void swiglu_forward(const Context& ctx, const bf16* g, const bf16* u, bf16* h, long long n);
// g, u from the forward, dh [n] -> dg [n] = dh u silu'(g), du [n] = dh silu(g);
// each output may alias any input of its type (every element is read before it is written)
void swiglu_backward(const Context& ctx, const float* g, const float* u, const float* dh, float* dg, float* du,
                     long long n);
void swiglu_backward(const Context& ctx, const bf16* g, const bf16* u, const float* dh, float* dg, float* du,
                     long long n);

// x [n] -> y [n] = silu(x) (y may alias x)
void silu_forward(const Context& ctx, const float* x, float* y, long long n);
void silu_forward(const Context& ctx, const bf16* x, float* y, long long n);
// x from the forward, dy [n] -> dx [n] = dy silu'(x) (dx may alias dy)
void silu_backward(const Context& ctx, const float* x, const float* dy, float* dx, long long n);
void silu_backward(const Context& ctx, const bf16* x, const float* dy, float* dx, long long n);

}  // namespace db::cuda
