// long_conv.h: causal per-channel convolution with a filter as long as the sequence, the core of
// Hyena, H3 and BaseConv (Zoology's fft_conv without its skip term).
//
//   y[b, t, c] = sum_{s <= t} h[s, c] x[b, t - s, c]          x, y [B, T, C], h [T, C]
// and its backward (both correlations, anti-causal):
//   dx[b, u, c] = sum_{t >= u} dy[b, t, c] h[t - u, c]
//   dh[s, c]    = sum_b sum_{t >= s} dy[b, t, c] x[b, t - s, c]
// Two forms compute the same function:
//   direct: the double sum, O(B C T^2);
//   fft:    zero-pad to N = the next power of two >= 2T (so the circular products equal the linear
//           ones on [0, T)), y = ifft(fft(x) fft(h)), dx = ifft(fft(dy) conj(fft(h))),
//           dh = ifft(sum_b fft(dy_b) conj(fft(x_b))), O(B C T log T), with Eigen's FFT
//           (unsupported/Eigen/FFT, kissfft backend).
// long_conv_fft_min_length() picks the form from T when the caller asks for kAuto. The direct form splits
// its work over batch rows (y, dx) or filter positions (dh) and runs the channels innermost; the FFT
// form splits over channels. Every sum runs in a fixed order either way (dh: batch rows, then
// positions), so the bits do not depend on the OpenMP thread count.
#pragma once

#include "models/core/types.h"

namespace db {

enum class LongConvForm { kAuto, kDirect, kFft };

// sequences at least this long take the FFT form under kAuto: where bench_kernels' BM_LongConv puts
// the crossover of the two forms (the vectorised direct form is ahead up to T = 512)
constexpr int kLongConvFftMinLength = 640;

// the length kAuto switches at, kLongConvFftMinLength unless changed; tests lower it to reach the
// mixers' FFT path at lengths a finite-difference check can afford
int long_conv_fft_min_length();
void set_long_conv_fft_min_length(int T);

// x [B,T,C], h [T,C] -> y [B,T,C] (overwritten)
void long_conv_forward(const real* x, const real* h, real* y, int B, int T, int C,
                       LongConvForm form = LongConvForm::kAuto);

// x [B,T,C], h [T,C] (the forward's inputs), dy [B,T,C] -> dx [B,T,C] (overwritten; skipped when null),
// dh [T,C] (overwritten; skipped when null)
void long_conv_backward(const real* x, const real* h, const real* dy, real* dx, real* dh, int B, int T, int C,
                        LongConvForm form = LongConvForm::kAuto);

}  // namespace db
