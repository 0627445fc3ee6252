// gradcheck_wrappers.h: db::Module wrappers that exist only so the generic gradient check covers
// numerics the model calls as functions or as parts of a mixer: the L2 norm of q and k, RoPE, and
// the per-head output norm (with its SiLU gate). Training never builds these; the tests add their
// entries to the product's module_registry() (wrapper_module_entries()).
// Shapes: B batch, T time, H heads, K (or V) per head; rows of width H*K.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "models/core/module.h"
#include "models/core/registry.h"
#include "models/layers/head_norm.h"
#include "models/layers/l2norm.h"
#include "models/layers/rope.h"

namespace db::test {

// normalises groups of `dim` numbers inside each row of width heads*dim; no parameters
class L2NormModule : public Module {
 public:
  L2NormModule(int heads, int dim, double eps = kL2NormEps) : H_(heads), K_(dim), eps_(static_cast<real>(eps)) {}
  int in_dim() const override { return H_ * K_; }
  int out_dim() const override { return H_ * K_; }
  // x [B,T,H*K] -> y [B,T,H*K]; keeps y and rstd
  void forward(const real* x, real* y, int B, int T) override {
    rows_ = static_cast<Index>(B) * T * H_;
    y_.resize(rows_ * K_);
    rstd_.resize(rows_);
    l2norm_forward(x, y_.data(), rstd_.data(), rows_, K_, eps_);
    std::copy(y_.begin(), y_.end(), y);
  }
  // dy [B,T,H*K] -> dx [B,T,H*K] (overwritten)
  void backward(const real* dy, real* dx) override { l2norm_backward(y_.data(), rstd_.data(), dy, dx, rows_, K_); }

 private:
  int H_, K_;
  real eps_;
  Index rows_ = 0;    // B*T*H
  RealVector y_;      // [B*T*H, K]
  RealVector rstd_;   // [B*T*H]
};

// y = rope(x) on [B,T,H*K]
class RopeModule : public Module {
 public:
  RopeModule(int heads, int head_dim, double base = 10000.0) : rope_(head_dim, base), H_(heads) {}
  int in_dim() const override { return H_ * rope_.head_dim(); }
  int out_dim() const override { return H_ * rope_.head_dim(); }
  void forward(const real* x, real* y, int B, int T) override {
    B_ = B, T_ = T;
    std::copy(x, x + static_cast<Index>(B) * T * in_dim(), y);
    rope_.forward(y, B, T, H_);
  }
  void backward(const real* dy, real* dx) override {
    std::copy(dy, dy + static_cast<Index>(B_) * T_ * in_dim(), dx);
    rope_.backward(dx, B_, T_, H_);
  }

 private:
  Rope rope_;
  int H_;
  int B_ = 0, T_ = 0;
};

// input row = [o (H*V) | gate (H*V)] when gated, else o; output the normed (and gated) o
class HeadNormModule : public Module {
 public:
  HeadNormModule(ParamArena& arena, const std::string& name, int heads, int head_dim, bool gated, double eps = 1e-5)
      : norm_(arena, name, heads, head_dim, eps), gated_(gated) {}
  int in_dim() const override { return (gated_ ? 2 : 1) * norm_.heads() * norm_.head_dim(); }
  int out_dim() const override { return norm_.heads() * norm_.head_dim(); }
  // x [B,T,in_dim] -> y [B,T,H*V]
  void forward(const real* x, real* y, int B, int T) override {
    rows_ = static_cast<Index>(B) * T;
    const int W = out_dim(), in = in_dim();
    o_.resize(rows_ * W);
    g_.resize(gated_ ? rows_ * W : 0);
    for (Index r = 0; r < rows_; ++r) {
      std::copy(x + r * in, x + r * in + W, o_.data() + r * W);
      if (gated_) std::copy(x + r * in + W, x + r * in + 2 * W, g_.data() + r * W);
    }
    norm_.forward(o_.data(), gated_ ? g_.data() : nullptr, y, rows_);
  }
  // dy [B,T,H*V] -> dx [B,T,in_dim] (overwritten)
  void backward(const real* dy, real* dx) override {
    const int W = out_dim(), in = in_dim();
    do_.resize(rows_ * W);
    dg_.resize(gated_ ? rows_ * W : 0);
    norm_.backward(dy, do_.data(), gated_ ? dg_.data() : nullptr);
    for (Index r = 0; r < rows_; ++r) {
      std::copy(do_.data() + r * W, do_.data() + (r + 1) * W, dx + r * in);
      if (gated_) std::copy(dg_.data() + r * W, dg_.data() + (r + 1) * W, dx + r * in + W);
    }
  }

  HeadNorm norm_;

 private:
  bool gated_;
  Index rows_ = 0;
  RealVector o_, g_, do_, dg_;  // [rows, H*V] each
};

// the wrappers as gradient-check cases, beside module_registry()'s real layers
inline const std::vector<const ModuleEntry*>& wrapper_module_entries() {
  static const ModuleEntry l2norm{"l2norm", "per-head L2 norm, 2 heads of 4, eps 1e-6 inside the sqrt",
                                  [](ParamArena&) { return std::make_unique<L2NormModule>(2, 4); }};
  static const ModuleEntry rope{"rope", "rotary embedding, 2 heads of 4, base 10000",
                                [](ParamArena&) { return std::make_unique<RopeModule>(2, 4); }};
  static const ModuleEntry head_norm{
      "head_norm", "per-head RMSNorm, 2 heads of 4, shared weight",
      [](ParamArena& arena) { return std::make_unique<HeadNormModule>(arena, "o_norm", 2, 4, false); }};
  static const ModuleEntry head_norm_gated{
      "head_norm_gated", "per-head RMSNorm * silu(gate), 2 heads of 4; input [o | gate]",
      [](ParamArena& arena) { return std::make_unique<HeadNormModule>(arena, "o_norm", 2, 4, true); }};
  static const std::vector<const ModuleEntry*> entries = {&l2norm, &rope, &head_norm, &head_norm_gated};
  return entries;
}

}  // namespace db::test
