// compression_decoder.cpp: forward and backward of MAD's autoencoder decoder (see the header).
//
// Backward: the chain in reverse (norm, gelu', fc2, norm, gelu', fc1, norm), then every output
// position's dz flows into the one encoder vector it was built from: dx[b,T-1] = sum_t dz[b,t].
#include "models/backbones/compression_decoder.h"

#include <cmath>

#include "models/core/registry.h"
#include "models/numerics/activations.h"
#include "models/layers/layernorm.h"
#include "models/numerics/parallel.h"
#include "models/layers/rmsnorm.h"

namespace db {
namespace {

std::unique_ptr<Module> make_decoder_norm(ParamArena& arena, const std::string& name, int D, bool layernorm,
                                          double eps) {
  if (layernorm) return std::make_unique<LayerNorm>(arena, name, D, eps);
  return std::make_unique<RMSNorm>(arena, name, D, eps);
}

// pe [T,D] as mad-lab's posemb_sincos_1d
void sincos_positions(int T, int D, RealVector& pe) {
  pe.assign(size_t(T) * D, real(0));
  const int half = D / 2;
  const double step = half > 1 ? std::log(10000.0) / (half - 1) : 0.0;
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < half; ++i) {
      const double angle = t * std::exp(-step * i);
      pe[size_t(t) * D + i] = static_cast<real>(std::sin(angle));
      pe[size_t(t) * D + half + i] = static_cast<real>(std::cos(angle));
    }
}

// out = gelu(in) and, backward, dx = dy * gelu'(pre); elementwise over n values
void gelu_forward(const real* in, real* out, Index n) {
  parallel_blocks(n, 4096, 32 * n, [&](Index i0, Index i1) {
    for (Index i = i0; i < i1; ++i) out[i] = gelu(in[i]);
  });
}
void gelu_backward(const real* pre, const real* dy, real* dx, Index n) {
  parallel_blocks(n, 4096, 32 * n, [&](Index i0, Index i1) {
    for (Index i = i0; i < i1; ++i) dx[i] = dy[i] * gelu_grad(pre[i]);
  });
}

}  // namespace

CompressionDecoder::CompressionDecoder(ParamArena& arena, const std::string& name, int d_model, bool layernorm,
                                       double norm_eps, double init_std)
    : D_(d_model),
      norm1_(make_decoder_norm(arena, name + ".norm1", d_model, layernorm, norm_eps)),
      fc1_(arena, name + ".fc1", d_model, d_model, /*bias=*/true, init_std),
      norm2_(make_decoder_norm(arena, name + ".norm2", d_model, layernorm, norm_eps)),
      fc2_(arena, name + ".fc2", d_model, d_model, /*bias=*/true, init_std),
      norm_out_(make_decoder_norm(arena, name + ".norm", d_model, layernorm, norm_eps)) {}

CompressionDecoder::~CompressionDecoder() = default;

void CompressionDecoder::forward(const real* x, real* y, int B, int T) {
  B_ = B, T_ = T;
  const int D = D_;
  const Index n = Index(B) * T * D;
  if (pe_T_ != T) sincos_positions(T, D, pe_), pe_T_ = T;
  z_.resize(n), n1_.resize(n), h1_.resize(n), a1_.resize(n), n2_.resize(n), h2_.resize(n), a2_.resize(n);
  for (int b = 0; b < B; ++b) {
    const real* last = x + (Index(b) * T + T - 1) * D;
    for (int t = 0; t < T; ++t) {
      real* zr = z_.data() + (Index(b) * T + t) * D;
      const real* pr = pe_.data() + Index(t) * D;
      for (int d = 0; d < D; ++d) zr[d] = last[d] + pr[d];
    }
  }
  norm1_->forward(z_.data(), n1_.data(), B, T);
  fc1_.forward(n1_.data(), h1_.data(), B, T);
  gelu_forward(h1_.data(), a1_.data(), n);
  norm2_->forward(a1_.data(), n2_.data(), B, T);
  fc2_.forward(n2_.data(), h2_.data(), B, T);
  gelu_forward(h2_.data(), a2_.data(), n);
  norm_out_->forward(a2_.data(), y, B, T);
}

void CompressionDecoder::backward(const real* dy, real* dx) {
  const int B = B_, T = T_, D = D_;
  const Index n = Index(B) * T * D;
  grad_a_.resize(n), grad_b_.resize(n);
  norm_out_->backward(dy, grad_a_.data());                       // d a2
  gelu_backward(h2_.data(), grad_a_.data(), grad_b_.data(), n);  // d h2
  fc2_.backward(grad_b_.data(), grad_a_.data());                 // d n2
  norm2_->backward(grad_a_.data(), grad_b_.data());              // d a1
  gelu_backward(h1_.data(), grad_b_.data(), grad_a_.data(), n);  // d h1
  fc1_.backward(grad_a_.data(), grad_b_.data());                 // d n1
  norm1_->backward(grad_b_.data(), grad_a_.data());              // d z
  std::fill(dx, dx + n, real(0));
  for (int b = 0; b < B; ++b) {
    real* last = dx + (Index(b) * T + T - 1) * D;
    for (int t = 0; t < T; ++t) {
      const real* dz = grad_a_.data() + (Index(b) * T + t) * D;
      for (int d = 0; d < D; ++d) last[d] += dz[d];
    }
  }
}

extern const ModuleEntry compression_decoder_module_entry{
    "compression_decoder", "MAD autoencoder decoder, D=6, LayerNorm", [](ParamArena& arena) {
      return std::make_unique<CompressionDecoder>(arena, "decoder", 6, /*layernorm=*/true, 1e-5);
    }};

}  // namespace db
