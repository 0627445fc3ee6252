// short_conv.cpp: causal depthwise conv with carried state (see short_conv.h).
//
// With xe = [state; x] per sequence ([T+W-1, C], xe[s] = x[s-W+1]):
//   forward   z[t] = sum_i w[:,i] * xe[t+i]                       (elementwise over channels)
//   backward  dz = dy * silu'(z)  (from z and the forward's sigmoid(z): no second exp)
//             dxe[s] = sum_{i: 0<=s-i<T} w[:,i] * dz[s-i]  (+ dstate_out for s >= T)
//             dx[t] = dxe[t+W-1],  dstate_in[j] = dxe[j],  dw[:,i] += sum_t dz[t] * xe[t+i]
// The gather form of dxe lets every output row be computed independently.
#include "models/layers/short_conv.h"

#include <algorithm>
#include <stdexcept>

#include "models/core/registry.h"
#include "models/numerics/activation_buffers.h"
#include "models/numerics/activations.h"
#include "models/numerics/parallel.h"

namespace db {
namespace {
constexpr int kTimeBlock = 64;
}

ShortConv::ShortConv(ParamArena& arena, const std::string& name, int channels, int kernel_size, bool silu,
                     double init_std)
    : C_(channels), W_(kernel_size), silu_(silu) {
  if (channels <= 0 || kernel_size <= 0) throw std::invalid_argument("ShortConv " + name + ": bad shape");
  ParamArena::Scope scope(arena, name);
  weight = arena.add("weight", {channels, 1, kernel_size}, ParamInit::normal(init_std));
}

void ShortConv::forward_stateful(const real* x, real* y, int B, int T, const real* state_in, real* state_out) {
  B_ = B;
  T_ = T;
  const int C = C_, W = W_, L = T + W - 1;
  const real* w = weight.data();
  wt_.resize(static_cast<size_t>(W) * C);
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < W; ++i) wt_[i * C + c] = w[c * W + i];

  xext_.resize(static_cast<size_t>(B) * L * C);
  for (int b = 0; b < B; ++b) {
    real* xe = xext_.data() + static_cast<size_t>(b) * L * C;
    const size_t ns = static_cast<size_t>(W - 1) * C;
    if (state_in)
      std::copy(state_in + b * ns, state_in + (b + 1) * ns, xe);
    else
      std::fill(xe, xe + ns, real(0));
    std::copy(x + static_cast<size_t>(b) * T * C, x + static_cast<size_t>(b + 1) * T * C, xe + ns);
  }
  if (silu_) {
    z_.resize(static_cast<size_t>(B) * T * C);
    z_sigmoid_.resize(z_.size());
  }

  const Index ntb = num_blocks(T, kTimeBlock);
  parallel_blocks(B * ntb, 1, static_cast<Index>(B) * T * C * W * 2, [&](Index u, Index) {
    const int b = static_cast<int>(u / ntb);
    const int t0 = static_cast<int>(u % ntb) * kTimeBlock, t1 = std::min(T, t0 + kTimeBlock);
    const real* xe = xext_.data() + static_cast<size_t>(b) * L * C;
    for (int t = t0; t < t1; ++t) {
      const size_t row = (static_cast<size_t>(b) * T + t) * C;
      real* zt = silu_ ? z_.data() + row : y + row;
      std::fill(zt, zt + C, real(0));
      for (int i = 0; i < W; ++i) {
        const real* wi = wt_.data() + i * C;
        const real* xi = xe + static_cast<size_t>(t + i) * C;
        for (int c = 0; c < C; ++c) zt[c] += wi[c] * xi[c];
      }
      if (silu_) {
        real* st = z_sigmoid_.data() + row;
        sigmoid_buffer(zt, st, C);
        for (int c = 0; c < C; ++c) y[row + c] = zt[c] * st[c];
      }
    }
  });

  if (state_out) {
    const size_t ns = static_cast<size_t>(W - 1) * C;
    for (int b = 0; b < B; ++b) {
      const real* xe = xext_.data() + static_cast<size_t>(b) * L * C;
      std::copy(xe + static_cast<size_t>(T) * C, xe + static_cast<size_t>(T) * C + ns, state_out + b * ns);
    }
  }
}

void ShortConv::backward_stateful(const real* dy, const real* dstate_out, real* dx, real* dstate_in) {
  const int B = B_, T = T_, C = C_, W = W_, L = T + W - 1;
  const size_t ns = static_cast<size_t>(W - 1) * C;
  const Index ntb = num_blocks(T, kTimeBlock);
  const Index nunits = B * ntb;

  // dz [B,T,C]
  const real* dz = dy;
  if (silu_) {
    dz_.resize(static_cast<size_t>(B) * T * C);
    const Index n = static_cast<Index>(B) * T * C;
    parallel_blocks(n, 4096, 4 * n, [&](Index i0, Index i1) {
      for (Index i = i0; i < i1; ++i) dz_[i] = dy[i] * silu_grad_from_sigmoid(z_[i], z_sigmoid_[i]);
    });
    dz = dz_.data();
  }

  // row s of dxe for sequence b, into out [C]
  auto dxe_row = [&](int b, int s, real* out) {
    std::fill(out, out + C, real(0));
    const real* dzb = dz + static_cast<size_t>(b) * T * C;
    for (int i = 0; i < W; ++i) {
      const int t = s - i;
      if (t < 0 || t >= T) continue;
      const real* wi = wt_.data() + i * C;
      const real* g = dzb + static_cast<size_t>(t) * C;
      for (int c = 0; c < C; ++c) out[c] += wi[c] * g[c];
    }
    if (dstate_out && s >= T) {
      const real* ds = dstate_out + b * ns + static_cast<size_t>(s - T) * C;
      for (int c = 0; c < C; ++c) out[c] += ds[c];
    }
  };

  parallel_blocks(nunits, 1, static_cast<Index>(B) * T * C * W * 2, [&](Index u, Index) {
    const int b = static_cast<int>(u / ntb);
    const int t0 = static_cast<int>(u % ntb) * kTimeBlock, t1 = std::min(T, t0 + kTimeBlock);
    for (int t = t0; t < t1; ++t) dxe_row(b, t + W - 1, dx + (static_cast<size_t>(b) * T + t) * C);
  });
  if (dstate_in)
    for (int b = 0; b < B; ++b)
      for (int j = 0; j < W - 1; ++j) dxe_row(b, j, dstate_in + b * ns + static_cast<size_t>(j) * C);

  // dwt [W,C] = sum over (b,t) of dz[t] * xe[t+i], reduced over a fixed partition of the units
  dwt_.assign(static_cast<size_t>(W) * C, real(0));
  auto accumulate_dw = [&](Index u0, Index u1, real* part) {
    for (Index u = u0; u < u1; ++u) {
      const int b = static_cast<int>(u / ntb);
      const int t0 = static_cast<int>(u % ntb) * kTimeBlock, t1 = std::min(T, t0 + kTimeBlock);
      const real* xe = xext_.data() + static_cast<size_t>(b) * L * C;
      for (int t = t0; t < t1; ++t) {
        const real* g = dz + (static_cast<size_t>(b) * T + t) * C;
        for (int i = 0; i < W; ++i) {
          const real* xi = xe + static_cast<size_t>(t + i) * C;
          real* p = part + i * C;
          for (int c = 0; c < C; ++c) p[c] += g[c] * xi[c];
        }
      }
    }
  };
  parallel_reduce_rows(nunits, static_cast<Index>(W) * C, dwt_.data(), scratch_, static_cast<Index>(B) * T * C * W * 2,
                       accumulate_dw);
  real* gw = weight.grad();
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < W; ++i) gw[c * W + i] += dwt_[i * C + c];
}

extern const ModuleEntry short_conv_module_entry{
    "short_conv", "causal depthwise conv, C=6, W=4, SiLU, with carried state",
    [](ParamArena& arena) { return std::make_unique<ShortConv>(arena, "conv1d", 6, 4, true); }};

extern const ModuleEntry short_conv_linear_module_entry{
    "short_conv_noact", "causal depthwise conv, C=5, W=3, no activation, with carried state",
    [](ParamArena& arena) { return std::make_unique<ShortConv>(arena, "conv1d", 5, 3, false); }};

}  // namespace db
