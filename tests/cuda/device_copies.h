// device_copies.h: the host <-> device copies and checks the GPU tests share (tests/cuda).
//
// Each copy goes on the context's stream and synchronises, so what it returns is ready to use or
// compare. Kept in one place so every test file uploads, downloads and compares bits the same way.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "models/cuda/runtime.h"

// at the top of a test: skip it where no CUDA device is visible
#define SKIP_WITHOUT_GPU() \
  if (::db::cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device visible"

namespace db::test {

// n host values in a new device buffer
template <class T>
cuda::DeviceBuffer<T> to_device(const cuda::Context& ctx, const T* host, size_t n) {
  cuda::DeviceBuffer<T> d(n);
  cuda::upload(host, d.data(), n, ctx.stream());
  ctx.synchronize();
  return d;
}
// Vec: anything with data() and size() (std::vector, the tests' Buf)
template <class Vec>
auto to_device(const cuda::Context& ctx, const Vec& host) {
  return to_device(ctx, host.data(), host.size());
}

// n device values in a new host vector
template <class T>
std::vector<T> to_host(const cuda::Context& ctx, const T* device, size_t n) {
  std::vector<T> h(n);
  cuda::download(device, h.data(), n, ctx.stream());
  ctx.synchronize();
  return h;
}
template <class T>
std::vector<T> to_host(const cuda::Context& ctx, const cuda::DeviceBuffer<T>& device) {
  return to_host(ctx, device.data(), device.size());
}

// the same size and the same bits (NaNs included, unlike ==)
template <class Vec>
bool same_bits(const Vec& a, const Vec& b) {
  return a.size() == b.size() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), a.size() * sizeof(a.data()[0])) == 0);
}

}  // namespace db::test
