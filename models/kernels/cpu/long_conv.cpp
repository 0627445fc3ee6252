// long_conv.cpp: the direct and FFT forms of the causal long convolution (see the header).
#include "models/kernels/long_conv.h"

#include <unsupported/Eigen/FFT>

#include <complex>
#include <vector>

namespace db {

namespace {

using Complex = std::complex<real>;

bool use_fft(LongConvForm form, int T) {
  return form == LongConvForm::kFft || (form == LongConvForm::kAuto && T >= kLongConvFftMinLength);
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

}  // namespace

void long_conv_forward(const real* x, const real* h, real* y, int B, int T, int C, LongConvForm form) {
  const size_t seq = size_t(T) * C;
  if (!use_fft(form, T)) {
#pragma omp parallel for schedule(static) if (int64_t(B) * C * T * T >= (int64_t(1) << 16))
    for (int c = 0; c < C; ++c) {
      for (int b = 0; b < B; ++b) {
        const real* xb = x + b * seq;
        real* yb = y + b * seq;
        for (int t = 0; t < T; ++t) {
          real sum = 0;
          for (int s = 0; s <= t; ++s) sum += h[size_t(s) * C + c] * xb[size_t(t - s) * C + c];
          yb[size_t(t) * C + c] = sum;
        }
      }
    }
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
#pragma omp parallel for schedule(static) if (int64_t(B) * C * T * T >= (int64_t(1) << 16))
    for (int c = 0; c < C; ++c) {
      if (dh)
        for (int s = 0; s < T; ++s) dh[size_t(s) * C + c] = 0;
      for (int b = 0; b < B; ++b) {
        const real* xb = x + b * seq;
        const real* dyb = dy + b * seq;
        if (dx) {
          real* dxb = dx + b * seq;
          for (int u = 0; u < T; ++u) {
            real sum = 0;
            for (int t = u; t < T; ++t) sum += dyb[size_t(t) * C + c] * h[size_t(t - u) * C + c];
            dxb[size_t(u) * C + c] = sum;
          }
        }
        if (dh) {
          for (int s = 0; s < T; ++s) {
            real sum = 0;
            for (int t = s; t < T; ++t) sum += dyb[size_t(t) * C + c] * xb[size_t(t - s) * C + c];
            dh[size_t(s) * C + c] += sum;
          }
        }
      }
    }
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
