// bf16.h: bf16 storage on the GPU (train.precision: bf16): the element type, fp32 -> bf16
// rounding, and activation buffers whose element type follows the run's precision.
//
// A bf16 run keeps fp32 master weights, optimizer state, residual stream, norms' statistics,
// recurrence state and every gradient an element-wise kernel reads, and stores in bf16 what
// mixed-precision training stores in bf16: the weights' copies the GEMMs read, and the activations
// that GEMMs read or that a module keeps for its backward (docs/architecture.md, "Precision on the
// GPU", lists them). Every kernel that reads a stored activation converts it to fp32 on load and
// computes in fp32.
// This header is compiled by nvcc (C++17) as well as by the host compiler, so host code needs no
// CUDA half types: `bf16` (runtime.h) is the raw 16 bits, laid out as CUDA's __nv_bfloat16.
#pragma once

#include <cstddef>
#include <cstdint>

#include "models/cuda/runtime.h"

namespace db::cuda {

// dst [n] = src [n] rounded to the nearest bf16 (ties to even), on the context's stream
void round_to_bf16(const Context& ctx, const float* src, bf16* dst, size_t n);
// dst [n] = src [n] widened to fp32 (exact)
void widen_to_fp32(const Context& ctx, const bf16* src, float* dst, size_t n);

// dst [n] = src [n] stored as the activation type: a copy for float, the rounding for bf16
void store_activation(const Context& ctx, const float* src, float* dst, size_t n);
void store_activation(const Context& ctx, const float* src, bf16* dst, size_t n);
// dst [n] = src [n], the same type, on the stream
template <class A>
void copy_activation(const Context& ctx, const A* src, A* dst, size_t n) {
  if (n) DB_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(A), cudaMemcpyDeviceToDevice, ctx.stream()));
}

// Device memory for an activation whose element type (float, or bf16 in a bf16 run) is chosen
// per call; grows like DeviceBuffer. data<A>() reads back what resize<A>() was last given.
class ActivationBuffer {
 public:
  template <class A>
  A* resize(size_t n) {
    return reinterpret_cast<A*>(bytes_.resize(n * sizeof(A)));
  }
  template <class A>
  A* data() {
    return reinterpret_cast<A*>(bytes_.data());
  }
  template <class A>
  const A* data() const {
    return reinterpret_cast<const A*>(bytes_.data());
  }

 private:
  DeviceBuffer<unsigned char> bytes_;
};

// Calls body(A{}) with A = bf16 in a bf16 run and A = float otherwise, so that a module writes
// its forward and backward once for both activation types.
template <class Body>
void with_activation_type(const Context& ctx, Body&& body) {
  if (ctx.precision() == Precision::bf16)
    body(bf16{});
  else
    body(float{});
}

}  // namespace db::cuda
