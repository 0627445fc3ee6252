// runtime.h: the CUDA runtime pieces every GPU file uses: error checks, device buffers, the stream.
//
// The GPU backend (train.device: cuda) runs a whole training step on one device. Everything here
// is host code; kernels live in .cu files beside the layer or mixer they belong to. A Context owns
// one stream and one cuBLAS handle; every kernel and copy of a run goes to that stream, so work is
// ordered without host synchronisation and a step can be captured in a CUDA graph. Device memory is
// held by DeviceBuffer, which only grows: after the first step of a shape nothing is allocated,
// which is what graph capture needs.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace db::cuda {

// throw std::runtime_error naming the call, file and line when a CUDA or cuBLAS call fails
void check(cudaError_t status, const char* call, const char* file, int line);
void check(cublasStatus_t status, const char* call, const char* file, int line);
#define DB_CUDA_CHECK(call) ::db::cuda::check((call), #call, __FILE__, __LINE__)
// after a kernel launch: a bad launch configuration is reported where it happened
#define DB_CUDA_CHECK_LAUNCH() ::db::cuda::check(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)

// GPUs this process can use; 0 when there is no driver or no device (never throws)
int device_count();
// "NVIDIA H200 (sm_90, 132 SMs)" for the current device
std::string device_description();

// How many device allocations this host thread has made (DeviceBuffer growth). A captured CUDA
// graph holds raw pointers, so a graph captured before the count moved may point at freed memory
// (step_graphs.h). Per thread because every run of a sweep allocates in its own worker thread.
uint64_t allocations_made_by_this_thread();
void count_allocation();

// A growable array in device memory. resize() keeps nothing when it grows (buffers are outputs
// or scratch, rewritten every step); it never shrinks, so a loop over one shape allocates once.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n) { resize(n); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)),
                                            capacity_(std::exchange(o.capacity_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr), size_ = std::exchange(o.size_, 0);
      capacity_ = std::exchange(o.capacity_, 0);
    }
    return *this;
  }

  // size n; contents undefined after growth
  T* resize(size_t n) {
    if (n > capacity_) {
      release();
      DB_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&data_), n * sizeof(T)));
      count_allocation();
      capacity_ = n;
    }
    size_ = n;
    return data_;
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(T); }
  void zero(cudaStream_t stream) {
    if (size_) DB_CUDA_CHECK(cudaMemsetAsync(data_, 0, bytes(), stream));
  }

 private:
  void release() {
    if (data_) cudaFree(data_);
    data_ = nullptr, capacity_ = 0, size_ = 0;
  }
  T* data_ = nullptr;
  size_t size_ = 0, capacity_ = 0;
};

// Page-locked host memory, the staging area of asynchronous copies (a batch going up, a loss
// coming down); grows like DeviceBuffer.
template <class T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() {
    if (data_) cudaFreeHost(data_);
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  T* resize(size_t n) {
    if (n > capacity_) {
      if (data_) cudaFreeHost(data_);
      data_ = nullptr;
      DB_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&data_), n * sizeof(T)));
      capacity_ = n;
    }
    size_ = n;
    return data_;
  }
  T* data() { return data_; }
  size_t size() const { return size_; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0, capacity_ = 0;
};

// copies on the context's stream (host memory should be pinned for them to be asynchronous)
template <class T>
void upload(const T* host, T* device, size_t n, cudaStream_t stream) {
  if (n) DB_CUDA_CHECK(cudaMemcpyAsync(device, host, n * sizeof(T), cudaMemcpyHostToDevice, stream));
}
template <class T>
void download(const T* device, T* host, size_t n, cudaStream_t stream) {
  if (n) DB_CUDA_CHECK(cudaMemcpyAsync(host, device, n * sizeof(T), cudaMemcpyDeviceToHost, stream));
}

// A run's arithmetic precision (train.precision): fp32, the default and the CPU's arithmetic, or
// bf16: GEMMs on bf16 operands with fp32 accumulation, and activations stored in bf16 (bf16.h).
enum class Precision { fp32, bf16 };

// A bf16 number as its raw 16 bits, laid out as CUDA's __nv_bfloat16 (bf16.h converts).
struct alignas(2) bf16 {
  uint16_t bits;
};
static_assert(sizeof(bf16) == 2);

// One device, one stream, one cuBLAS handle. cuBLAS runs in its default math mode, which for
// fp32 GEMMs means true fp32 (no TF32), so the GPU path can be compared with the CPU path.
class Context {
 public:
  explicit Context(int device = 0);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t blas() const { return blas_; }
  // wait until everything queued on the stream has run (and report an asynchronous error)
  void synchronize() const;

  void set_precision(Precision precision) { precision_ = precision; }
  Precision precision() const { return precision_; }
  // scratch for a GEMM operand given in fp32 and rounded to bf16, grown to n: slots 0 and 1 for the
  // two operands of one product, kSharedOperandSlot for one that several products read (blas.h)
  static constexpr int kSharedOperandSlot = 2;
  bf16* bf16_scratch(int slot, size_t n) const { return bf16_scratch_[slot].resize(n); }

 private:
  Precision precision_ = Precision::fp32;
  mutable DeviceBuffer<bf16> bf16_scratch_[3];
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  void* blas_workspace_ = nullptr;  // fixed cuBLAS workspace, so a captured graph allocates nothing
};

// threads-per-block and grid for n independent elements
inline constexpr int kThreads = 256;
inline unsigned blocks_for(size_t n, int threads = kThreads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

}  // namespace db::cuda
