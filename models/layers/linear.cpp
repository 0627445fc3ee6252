// linear.cpp: y = x W^T (+ b) and its backward (see linear.h).
#include "models/layers/linear.h"

#include <algorithm>
#include <stdexcept>

#include "models/core/registry.h"
#include "models/numerics/gemm.h"

namespace db {

Linear::Linear(ParamArena& arena, const std::string& name, int in_features, int out_features, bool bias,
               double init_std)
    : in_(in_features), out_(out_features) {
  if (in_features <= 0 || out_features <= 0) throw std::invalid_argument("Linear " + name + ": bad shape");
  ParamArena::Scope scope(arena, name);
  weight = arena.add("weight", {out_features, in_features}, ParamInit::normal(init_std));
  if (bias) this->bias = arena.add("bias", {out_features}, ParamInit::zeros(), /*weight_decay=*/false);
}

void Linear::apply(const real* x, real* y, Index rows) const {
  // y [rows,out] = x [rows,in] W^T
  gemm_nt(x, weight.data(), y, rows, out_, in_);
  if (bias.valid()) {
    const real* b = bias.data();
    for (Index r = 0; r < rows; ++r) {
      real* yr = y + r * out_;
      for (int o = 0; o < out_; ++o) yr[o] += b[o];
    }
  }
}

void Linear::apply_backward(const real* x, const real* dy, real* dx, Index rows, bool accumulate_dx) {
  // dx [rows,in] = dy [rows,out] W [out,in]
  if (dx) gemm_nn(dy, weight.data(), dx, rows, in_, out_, accumulate_dx);
  // dW [out,in] += dy^T [out,rows] x [rows,in]
  gemm_tn(dy, x, weight.grad(), out_, in_, rows, /*accumulate=*/true);
  if (bias.valid()) {
    // db [out] += column sums of dy, rows in order (cheap next to the products)
    real* db = bias.grad();
    for (Index r = 0; r < rows; ++r) {
      const real* g = dy + r * out_;
      for (int o = 0; o < out_; ++o) db[o] += g[o];
    }
  }
}

void Linear::forward(const real* x, real* y, int B, int T) {
  rows_ = static_cast<Index>(B) * T;
  x_.assign(x, x + rows_ * in_);
  apply(x, y, rows_);
}

void Linear::backward(const real* dy, real* dx) { apply_backward(x_.data(), dy, dx, rows_, false); }

extern const ModuleEntry linear_module_entry{
    "linear", "y = x W^T + b (in 6, out 5, with bias for the test)",
    [](ParamArena& arena) { return std::make_unique<Linear>(arena, "proj", 6, 5, /*bias=*/true); }};

}  // namespace db
