// softmax_attention.h (cuda): the masked softmax of softmax attention's CUDA half (gpu_softmax_attention.cpp).
//
// Plain device pointers, queued on the context's stream; the GEMMs of the mixer go through blas.h,
// RoPE is models/layers/cuda/rope.h; these are the pieces around them. Shapes as in models/mixers/softmax_attention.h: q, k, v are
// [B*T, H*K] (row stride H*K); the probabilities are [B*H, T, T], row (bh, t) holding query t's
// weights over keys 0..T-1. Query t sees keys first(t)..t, first(t) = max(0, t - window + 1) with a
// window and 0 without (window 0); every other entry of its row is 0. No atomics: each row is
// reduced by one block in a fixed tree, so the bits are the same on every run.
// This header is compiled by nvcc (C++17) as well as by the host compiler.
#pragma once

#include "models/cuda/runtime.h"

namespace db::cuda::attention {

// probs [BH, T, T]: the scaled scores in, the masked softmax of every row out (masked entries 0)
void masked_softmax_forward(const Context& ctx, float* probs, int BH, int T, int window);

// probs [BH, T, T] from the forward; dscore: dL/dprobs in, dL/dscores out, times `scale`
// (the scores' factor, so dscore is then the gradient of the unscaled q k^T):
// dscore = scale * P o (dP - <dP, P>) row by row, masked entries 0
void masked_softmax_backward(const Context& ctx, const float* probs, float* dscore, int BH, int T, int window,
                             float scale);

}  // namespace db::cuda::attention
