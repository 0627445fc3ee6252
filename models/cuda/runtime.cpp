// runtime.cpp: error checks, device queries and the per-run Context (see runtime.h).
#include "models/cuda/runtime.h"

#include <fmt/format.h>

#include <stdexcept>

namespace db::cuda {

void check(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess)
    throw std::runtime_error(fmt::format("CUDA error '{}' in {} ({}:{})", cudaGetErrorString(status), call, file, line));
}

void check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(
        fmt::format("cuBLAS error '{}' in {} ({}:{})", cublasGetStatusString(status), call, file, line));
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error so later checks are not confused
    return 0;
  }
  return n;
}

std::string device_description() {
  int device = 0;
  DB_CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp p{};
  DB_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  return fmt::format("{} (sm_{}{}, {} SMs)", p.name, p.major, p.minor, p.multiProcessorCount);
}

namespace {
thread_local uint64_t allocations_in_thread = 0;
}  // namespace

uint64_t allocations_made_by_this_thread() { return allocations_in_thread; }
void count_allocation() { ++allocations_in_thread; }

namespace {
// cuBLAS's recommended workspace for Hopper; given once so that no call allocates
constexpr size_t kBlasWorkspaceBytes = size_t(32) << 20;
}  // namespace

Context::Context(int device) : device_(device) {
  DB_CUDA_CHECK(cudaSetDevice(device));
  DB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  DB_CUDA_CHECK(cublasCreate(&blas_));
  DB_CUDA_CHECK(cublasSetStream(blas_, stream_));
  DB_CUDA_CHECK(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH));
  DB_CUDA_CHECK(cudaMalloc(&blas_workspace_, kBlasWorkspaceBytes));
  DB_CUDA_CHECK(cublasSetWorkspace(blas_, blas_workspace_, kBlasWorkspaceBytes));
}

Context::~Context() {
  if (blas_) cublasDestroy(blas_);
  if (blas_workspace_) cudaFree(blas_workspace_);
  if (stream_) cudaStreamDestroy(stream_);
}

void Context::synchronize() const { DB_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

}  // namespace db::cuda
