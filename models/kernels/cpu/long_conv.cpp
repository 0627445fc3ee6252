// long_conv.cpp: the direct and FFT forms of the causal long convolution (see the header).
#include "models/kernels/long_conv.h"

#include <unsupported/Eigen/FFT>

#include <algorithm>
#include <atomic>
#include <complex>
#include <vector>

#include "models/numerics/parallel.h"

namespace db {

namespace {

using Complex = std::complex<real>;

std::atomic<int> fft_min_length{kLongConvFftMinLength};

bool use_fft(LongConvForm form, int T) {
  return form == LongConvForm::kFft || (form == LongConvForm::kAuto && T >= fft_min_length.load());
}

int fft_length(int T) {
  int n = 1;
  while (n < 2 * T) n *= 2;
  return n;
}

// one thread's FFT plan cache and buffers, reused across calls (grown on use). The signals are real,
// so only the half spectrum (N/2 + 1 bins) is formed; the inverse assumes Hermitian symmetry, which
// every product and sum of real signals' spectra here has.
struct FftWork {
  FftWork() { fft.SetFlag(Eigen::FFT<real>::HalfSpectrum); }
  Eigen::FFT<real> fft;
  std::vector<real> a, b;               // [N] real signals
  std::vector<Complex> fa, fb, fh, acc;  // [N/2+1] spectra
};

FftWork& fft_work() {
  thread_local FftWork w;
  return w;
}

// gather channel c of one [T, C] sequence into a zero-padded length-N signal
void gather(const real* src, int T, int C, int c, int N, std::vector<real>& out) {
  out.assign(size_t(N), real(0));
  for (int t = 0; t < T; ++t) out[size_t(t)] = src[size_t(t) * C + c];
}

// out[c] += a[c] * b[c] over C channels
inline void add_product(const real* a, const real* b, real* out, int C) {
#pragma omp simd
  for (int c = 0; c < C; ++c) out[c] += a[c] * b[c];
}

}  // namespace

int long_conv_fft_min_length() { return fft_min_length.load(); }
void set_long_conv_fft_min_length(int T) { fft_min_length.store(T); }

void long_conv_forward(const real* x, const real* h, real* y, int B, int T, int C, LongConvForm form) {
  const size_t seq = size_t(T) * C;
  if (!use_fft(form, T)) {
    // one output row at a time, the channels innermost: contiguous, vectorised, and each channel's
    // sum still runs over s in order
    const Index work = Index(B) * C * T * T / 2;
    parallel_blocks(B, 1, work, [&](Index b0, Index b1) {
      for (Index b = b0; b < b1; ++b)
        for (int t = 0; t < T; ++t) {
          real* yrow = y + b * seq + size_t(t) * C;
          std::fill_n(yrow, C, real(0));
          for (int s = 0; s <= t; ++s) add_product(h + size_t(s) * C, x + b * seq + size_t(t - s) * C, yrow, C);
        }
    });
    return;
  }
  const int N = fft_length(T);
#pragma omp parallel for schedule(static)
  for (int c = 0; c < C; ++c) {
    FftWork& w = fft_work();
    gather(h, T, C, c, N, w.a);
    w.fft.fwd(w.fh, w.a);  // fft(h)
    for (int b = 0; b < B; ++b) {
      gather(x + b * seq, T, C, c, N, w.a);
      w.fft.fwd(w.fa, w.a);
      for (size_t k = 0; k < w.fa.size(); ++k) w.fa[k] *= w.fh[k];
      w.fft.inv(w.b, w.fa, N);
      real* yb = y + b * seq;
      for (int t = 0; t < T; ++t) yb[size_t(t) * C + c] = w.b[size_t(t)];
    }
  }
}

void long_conv_backward(const real* x, const real* h, const real* dy, real* dx, real* dh, int B, int T, int C,
                        LongConvForm form) {
  const size_t seq = size_t(T) * C;
  if (!use_fft(form, T)) {
    const Index work = Index(B) * C * T * T / 2;
    if (dx)
      parallel_blocks(B, 1, work, [&](Index b0, Index b1) {
        for (Index b = b0; b < b1; ++b)
          for (int u = 0; u < T; ++u) {
            real* row = dx + b * seq + size_t(u) * C;
            std::fill_n(row, C, real(0));
            for (int t = u; t < T; ++t) add_product(dy + b * seq + size_t(t) * C, h + size_t(t - u) * C, row, C);
          }
      });
    // dh row s sums over the batch, then over t, in that order for every thread count
    if (dh)
      parallel_blocks(T, 1, work, [&](Index s0, Index s1) {
        for (Index s = s0; s < s1; ++s) {
          real* row = dh + size_t(s) * C;
          std::fill_n(row, C, real(0));
          for (int b = 0; b < B; ++b)
            for (int t = int(s); t < T; ++t) add_product(dy + b * seq + size_t(t) * C, x + b * seq + size_t(t - s) * C, row, C);
        }
      });
    return;
  }
  const int N = fft_length(T);
#pragma omp parallel for schedule(static)
  for (int c = 0; c < C; ++c) {
    FftWork& w = fft_work();
    gather(h, T, C, c, N, w.a);
    w.fft.fwd(w.fh, w.a);
    for (auto& e : w.fh) e = std::conj(e);  // correlation with h
    w.acc.assign(w.fh.size(), Complex(0));
    for (int b = 0; b < B; ++b) {
      gather(dy + b * seq, T, C, c, N, w.a);
      w.fft.fwd(w.fa, w.a);  // fft(dy_b)
      if (dh) {
        gather(x + b * seq, T, C, c, N, w.a);
        w.fft.fwd(w.fb, w.a);  // fft(x_b)
        for (size_t k = 0; k < w.acc.size(); ++k) w.acc[k] += w.fa[k] * std::conj(w.fb[k]);
      }
      if (dx) {
        for (size_t k = 0; k < w.fa.size(); ++k) w.fa[k] *= w.fh[k];
        w.fft.inv(w.b, w.fa, N);
        real* dxb = dx + b * seq;
        for (int u = 0; u < T; ++u) dxb[size_t(u) * C + c] = w.b[size_t(u)];
      }
    }
    if (dh) {
      w.fft.inv(w.b, w.acc, N);
      for (int s = 0; s < T; ++s) dh[size_t(s) * C + c] = w.b[size_t(s)];
    }
  }
}

}  // namespace db
