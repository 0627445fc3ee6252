// compression_decoder.h: MAD's autoencoder decoder, which rebuilds a whole sequence from the
// encoder's last position (the backbone of MAD's compression task, mad-lab mad/model/auto_encoder.py).
//
//   z[b,t] = x[b,T-1] + pe[t]                       pe: fixed sin-cos table (fairseq layout below)
//   y      = norm(gelu(fc2(norm(gelu(fc1(norm(z)))))))
//
// The final norm is the one MAD applies before its unembedding, so the model's LM head follows
// directly. Only the last position of x reaches the output: the task asks the model to compress the
// sequence into one state. pe[t] = [sin(t w_0..w_{h-1}), cos(t w_0..w_{h-1})], h = D/2,
// w_i = 10000^(-i/(h-1)), zero-padded when D is odd (mad-lab posemb_sincos_1d).
// Parameters: <name>.norm1, <name>.fc1 (weight [D,D], bias [D]), <name>.norm2, <name>.fc2, <name>.norm.
// Shapes: rows = B*T, D = d_model.
#pragma once

#include <memory>
#include <string>

#include "models/core/module.h"
#include "models/core/params.h"
#include "models/layers/linear.h"

namespace db {

class CompressionDecoder : public Module {
 public:
  // layernorm: LayerNorm (MAD's default) or RMSNorm for the three norms
  CompressionDecoder(ParamArena& arena, const std::string& name, int d_model, bool layernorm, double norm_eps,
                     double init_std = 0.02);
  ~CompressionDecoder() override;
  int in_dim() const override { return D_; }
  int out_dim() const override { return D_; }
  // x [B,T,D] (encoder output; only t = T-1 is read) -> y [B,T,D]
  void forward(const real* x, real* y, int B, int T) override;
  // dy [B,T,D] -> dx [B,T,D] (overwritten; zero except at t = T-1); parameter grads accumulate
  void backward(const real* dy, real* dx) override;

 private:
  int D_;
  int B_ = 0, T_ = 0;
  // in MAD's order, which is also the order of their parameters in the arena
  std::unique_ptr<Module> norm1_;
  Linear fc1_;
  std::unique_ptr<Module> norm2_;
  Linear fc2_;
  std::unique_ptr<Module> norm_out_;
  RealVector z_, n1_, h1_, a1_, n2_, h2_, a2_;  // [rows, D]: input, norm1, fc1, gelu, norm2, fc2, gelu
  RealVector grad_a_, grad_b_;                 // [rows, D] work buffers
  RealVector pe_;                              // [pe_T_, D] sin-cos table, rebuilt when T changes
  int pe_T_ = -1;
};

}  // namespace db
