// bf16.h: fp32 -> bf16 rounding on the GPU, for the bf16 operands of blas.h's GEMMs.
// bf16 values are passed as their raw 16 bits (uint16_t), so host code needs no CUDA half types.
// This header is compiled by nvcc (C++17) as well as by the host compiler.
#pragma once

#include <cstddef>
#include <cstdint>

#include "models/cuda/runtime.h"

namespace db::cuda {

// dst [n] = src [n] rounded to the nearest bf16 (ties to even), on the context's stream
void round_to_bf16(const Context& ctx, const float* src, uint16_t* dst, size_t n);

}  // namespace db::cuda
