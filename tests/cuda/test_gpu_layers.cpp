// test_gpu_layers.cpp: the GPU layer twins against their CPU modules, and their bits run to run.
//
// Each layer is built once on the host (ParamArena, initialised, norm weights moved away from 1 so
// they matter), mirrored into DeviceParams, and run forward and backward on both sides with the
// same random x and dy. Outputs, input gradients and every parameter gradient must agree to a
// relative RMS of 1e-5 (the GPU sums in other orders, and its exp is CUDA's, not the CPU's).
// Shapes are odd, and some have more than kRowsPerPartial rows or more columns than a block has
// threads, so the partial sums and the column loops are exercised. The head norm and the L2 norm
// are not Modules; they are compared through the gradient checker's wrappers
// (tests/common/gradcheck_wrappers.h) and GPU adapters with the same [o | gate] input layout.
// Every test skips without a GPU.
// Shapes: B batch, T time, D width, H heads, K/V head dims, F MLP hidden size, C channels, W taps.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "models/cuda/column_sums.h"
#include "models/cuda/device_params.h"
#include "models/cuda/gpu_module.h"
#include "models/cuda/runtime.h"
#include "models/layers/cuda/gpu_head_norm.h"
#include "models/layers/cuda/gpu_norms.h"
#include "models/layers/cuda/gpu_short_conv.h"
#include "models/layers/cuda/gpu_swiglu_mlp.h"
#include "models/layers/cuda/l2norm.h"
#include "models/layers/cuda/norms.h"
#include "models/layers/cuda/swiglu.h"
#include "models/layers/l2norm.h"
#include "models/layers/layernorm.h"
#include "models/layers/rmsnorm.h"
#include "models/layers/short_conv.h"
#include "models/layers/swiglu_mlp.h"
#include "models/mixers/cuda/projected_recurrence.h"
#include "models/numerics/activations.h"
#include "tests/common/gradcheck_wrappers.h"
#include "tests/common/relative_rms.h"
#include "tests/cuda/device_copies.h"

namespace db::cuda {
namespace {

using test::same_bits;
using test::to_device;
using test::to_host;

constexpr double kTolerance = 1e-5;

std::vector<float> randn(size_t n, Rng& rng, double std = 1.0, double mean = 0.0) {
  std::vector<float> v(n);
  for (auto& e : v) e = static_cast<float>(mean + rng.normal() * std);
  return v;
}

// overwrite a parameter's initial values (norm weights start at ones, projections at std 0.02)
void fill_normal(Param& p, Rng& rng, double mean, double std) {
  for (size_t i = 0; i < p.size(); ++i) p.data()[i] = static_cast<float>(mean + rng.normal() * std);
}

// dst [rows, width] (row stride dst_stride) = src [rows, width] (row stride src_stride)
void copy_block(const Context& ctx, const float* src, int src_stride, float* dst, int dst_stride, int width,
                long long rows) {
  DB_CUDA_CHECK(cudaMemcpy2DAsync(dst, dst_stride * sizeof(float), src, src_stride * sizeof(float),
                                  width * sizeof(float), rows, cudaMemcpyDeviceToDevice, ctx.stream()));
}

// ---- GPU adapters mirroring the CPU wrappers of gradcheck_wrappers.h ----

// input row = [o (H*V) | gate (H*V)] when gated, else o; output the normed (and gated) o
class GpuHeadNormModule : public GpuModule {
 public:
  GpuHeadNormModule(const Context& ctx, const ParamScope& scope, int heads, int head_dim, bool gated)
      : ctx_(ctx), norm_(ctx, scope, heads, head_dim, 1e-5), W_(heads * head_dim), gated_(gated) {}
  void forward(const float* x, float* y, int B, int T) override {
    rows_ = static_cast<long long>(B) * T;
    const int in = (gated_ ? 2 : 1) * W_;
    copy_block(ctx_, x, in, o_.resize(rows_ * W_), W_, W_, rows_);
    if (gated_) copy_block(ctx_, x + W_, in, g_.resize(rows_ * W_), W_, W_, rows_);
    norm_.forward(o_.data(), gated_ ? g_.data() : nullptr, y, rows_);
  }
  void backward(const float* dy, float* dx) override {
    const int in = (gated_ ? 2 : 1) * W_;
    norm_.backward(dy, do_.resize(rows_ * W_), gated_ ? dg_.resize(rows_ * W_) : nullptr);
    copy_block(ctx_, do_.data(), W_, dx, in, W_, rows_);
    if (gated_) copy_block(ctx_, dg_.data(), W_, dx + W_, in, W_, rows_);
  }

 private:
  const Context& ctx_;
  GpuHeadNorm norm_;
  int W_;
  bool gated_;
  long long rows_ = 0;
  DeviceBuffer<float> o_, g_, do_, dg_;  // [rows, H*V] each
};

// per-head L2 norm of [B,T,H*K] as the [B*T*H, K] view; keeps y and rstd
class GpuL2NormModule : public GpuModule {
 public:
  GpuL2NormModule(const Context& ctx, int heads, int dim) : ctx_(ctx), H_(heads), K_(dim) {}
  void forward(const float* x, float* y, int B, int T) override {
    rows_ = static_cast<long long>(B) * T * H_;
    l2norm_forward(ctx_, x, y_.resize(rows_ * K_), rstd_.resize(rows_), rows_, K_, static_cast<float>(kL2NormEps));
    copy_block(ctx_, y_.data(), K_, y, K_, K_, rows_);
  }
  void backward(const float* dy, float* dx) override {
    l2norm_backward(ctx_, y_.data(), rstd_.data(), dy, dx, rows_, K_);
  }

 private:
  const Context& ctx_;
  int H_, K_;
  long long rows_ = 0;
  DeviceBuffer<float> y_, rstd_;
};

// y = silu(x) elementwise on the CPU (the scalar reference forms) ...
class SiluModule : public Module {
 public:
  explicit SiluModule(int dim) : dim_(dim) {}
  int in_dim() const override { return dim_; }
  int out_dim() const override { return dim_; }
  void forward(const real* x, real* y, int B, int T) override {
    x_.assign(x, x + static_cast<size_t>(B) * T * dim_);
    for (size_t i = 0; i < x_.size(); ++i) y[i] = silu(x_[i]);
  }
  void backward(const real* dy, real* dx) override {
    for (size_t i = 0; i < x_.size(); ++i) dx[i] = dy[i] * silu_grad(x_[i]);
  }

 private:
  int dim_;
  std::vector<real> x_;
};

// ... and on the GPU
class GpuSiluModule : public GpuModule {
 public:
  explicit GpuSiluModule(const Context& ctx, int dim) : ctx_(ctx), dim_(dim) {}
  void forward(const float* x, float* y, int B, int T) override {
    n_ = static_cast<long long>(B) * T * dim_;
    copy_block(ctx_, x, dim_, x_.resize(n_), dim_, dim_, n_ / dim_);
    silu_forward(ctx_, x_.data(), y, n_);
  }
  void backward(const float* dy, float* dx) override { silu_backward(ctx_, x_.data(), dy, dx, n_); }

 private:
  const Context& ctx_;
  int dim_;
  long long n_ = 0;
  DeviceBuffer<float> x_;
};

// ---- one layer, both sides ----

using GpuFactory = std::function<std::unique_ptr<GpuModule>(const Context&, DeviceParams&)>;

// a CPU layer over its own arena and the recipe for its GPU twin; built in place (arenas do not move)
struct Case {
  ParamArena arena;
  std::unique_ptr<Module> cpu;
  GpuFactory gpu;
  double x_mean = 0, x_std = 1;
};

struct Outputs {
  std::vector<float> y, dx, grads;
};

// one GPU forward + backward from zeroed gradients, everything downloaded (the grads through arena)
Outputs run_gpu(const Context& ctx, DeviceParams& params, ParamArena& arena, GpuModule& gpu,
                const std::vector<float>& x, const std::vector<float>& dy, int B, int T) {
  DeviceBuffer<float> x_d = to_device(ctx, x), dy_d = to_device(ctx, dy);
  DeviceBuffer<float> y_d(dy.size()), dx_d(x.size());
  params.zero_grad();
  gpu.forward(x_d.data(), y_d.data(), B, T);
  gpu.backward(dy_d.data(), dx_d.data());
  Outputs out{to_host(ctx, y_d.data(), y_d.size()), to_host(ctx, dx_d.data(), dx_d.size()), {}};
  params.download_grads(arena);
  out.grads.assign(arena.grad(), arena.grad() + arena.size());
  return out;
}

// CPU and GPU on the same x [B,T,in] and dy [B,T,out]: y, dx and each parameter gradient agree
void expect_matches_cpu(Case& c, int B, int T, uint64_t seed) {
  SCOPED_TRACE("B " + std::to_string(B) + ", T " + std::to_string(T));
  Rng rng(seed);
  const size_t rows = static_cast<size_t>(B) * T;
  const std::vector<float> x = randn(rows * c.cpu->in_dim(), rng, c.x_std, c.x_mean);
  const std::vector<float> dy = randn(rows * c.cpu->out_dim(), rng);

  std::vector<float> y(dy.size()), dx(x.size());
  c.arena.zero_grad();
  c.cpu->forward(x.data(), y.data(), B, T);
  c.cpu->backward(dy.data(), dx.data());
  const std::vector<float> grads(c.arena.grad(), c.arena.grad() + c.arena.size());

  Context ctx;
  DeviceParams params(c.arena, ctx);
  std::unique_ptr<GpuModule> gpu = c.gpu(ctx, params);
  const Outputs got = run_gpu(ctx, params, c.arena, *gpu, x, dy, B, T);

  EXPECT_LE(test::relative_rms(got.y, y), kTolerance) << "y";
  EXPECT_LE(test::relative_rms(got.dx, dx), kTolerance) << "dx";
  for (const ParamInfo& p : c.arena.params()) {
    const std::span<const float> ref(grads.data() + p.offset, p.size), mine(got.grads.data() + p.offset, p.size);
    EXPECT_LE(test::relative_rms(mine, ref), kTolerance) << "gradient of " << p.name;
  }
}

// two GPU forward + backward passes from zeroed gradients give the same bits
void expect_deterministic(Case& c, int B, int T, uint64_t seed) {
  Rng rng(seed);
  const size_t rows = static_cast<size_t>(B) * T;
  const std::vector<float> x = randn(rows * c.cpu->in_dim(), rng, c.x_std, c.x_mean);
  const std::vector<float> dy = randn(rows * c.cpu->out_dim(), rng);
  Context ctx;
  DeviceParams params(c.arena, ctx);
  std::unique_ptr<GpuModule> gpu = c.gpu(ctx, params);
  const Outputs first = run_gpu(ctx, params, c.arena, *gpu, x, dy, B, T);
  const Outputs second = run_gpu(ctx, params, c.arena, *gpu, x, dy, B, T);
  EXPECT_TRUE(same_bits(first.y, second.y)) << "y";
  EXPECT_TRUE(same_bits(first.dx, second.dx)) << "dx";
  EXPECT_TRUE(same_bits(first.grads, second.grads)) << "parameter gradients";
}

// ---- the layers ----

void rmsnorm_case(Case& c, int dim) {
  auto norm = std::make_unique<RMSNorm>(c.arena, "model.norm", dim, 1e-6);
  Rng rng(11);
  c.arena.initialize(rng);
  fill_normal(norm->weight, rng, 1.0, 0.3);
  c.cpu = std::move(norm);
  c.gpu = [dim](const Context& ctx, DeviceParams& p) {
    return std::make_unique<GpuRMSNorm>(ctx, ParamScope(p, "model.norm"), dim, 1e-6);
  };
  c.x_std = 2.0;
}

void layernorm_case(Case& c, int dim) {
  auto norm = std::make_unique<LayerNorm>(c.arena, "model.norm", dim, 1e-5);
  Rng rng(12);
  c.arena.initialize(rng);
  fill_normal(norm->weight, rng, 1.0, 0.3);
  fill_normal(norm->bias, rng, 0.0, 0.3);
  c.cpu = std::move(norm);
  c.gpu = [dim](const Context& ctx, DeviceParams& p) {
    return std::make_unique<GpuLayerNorm>(ctx, ParamScope(p, "model.norm"), dim, 1e-5);
  };
  c.x_mean = 3.0;  // a mean the norm must remove
  c.x_std = 2.0;
}

void head_norm_case(Case& c, int heads, int head_dim, bool gated) {
  auto norm = std::make_unique<test::HeadNormModule>(c.arena, "attn.o_norm", heads, head_dim, gated, 1e-5);
  Rng rng(13);
  c.arena.initialize(rng);
  fill_normal(norm->norm_.weight, rng, 1.0, 0.3);
  c.cpu = std::move(norm);
  c.gpu = [heads, head_dim, gated](const Context& ctx, DeviceParams& p) {
    return std::make_unique<GpuHeadNormModule>(ctx, ParamScope(p, "attn.o_norm"), heads, head_dim, gated);
  };
  c.x_std = 1.5;  // gates in SiLU's curved range
}

void short_conv_case(Case& c, int channels, int width, bool silu) {
  auto conv = std::make_unique<ShortConv>(c.arena, "attn.q_conv1d", channels, width, silu);
  Rng rng(14);
  c.arena.initialize(rng);
  fill_normal(conv->weight, rng, 0.0, 0.5);  // pre-activations of order 1, where SiLU is not linear
  c.cpu = std::move(conv);
  c.gpu = [channels, width, silu](const Context& ctx, DeviceParams& p) {
    return std::make_unique<GpuShortConv>(ctx, ParamScope(p, "attn.q_conv1d"), channels, width, silu);
  };
}

void swiglu_mlp_case(Case& c, int d_model, int hidden) {
  auto mlp = std::make_unique<SwiGLUMLP>(c.arena, "model.layers.0.mlp", d_model, hidden);
  Rng rng(15);
  c.arena.initialize(rng);
  // std 0.2 instead of 0.02, so gate pre-activations reach SiLU's curved range
  fill_normal(mlp->gate_proj.weight, rng, 0.0, 0.2);
  fill_normal(mlp->up_proj.weight, rng, 0.0, 0.2);
  fill_normal(mlp->down_proj.weight, rng, 0.0, 0.2);
  c.cpu = std::move(mlp);
  c.gpu = [d_model, hidden](const Context& ctx, DeviceParams& p) {
    return std::make_unique<GpuSwiGLUMLP>(ctx, ParamScope(p, "model.layers.0.mlp"), d_model, hidden);
  };
}

// parameterless layers still need an allocated arena for DeviceParams
void l2norm_case(Case& c, int heads, int dim) {
  c.arena.allocate();
  c.cpu = std::make_unique<test::L2NormModule>(heads, dim);
  c.gpu = [heads, dim](const Context& ctx, DeviceParams&) {
    return std::make_unique<GpuL2NormModule>(ctx, heads, dim);
  };
  c.x_std = 0.5;
}

void silu_case(Case& c, int dim) {
  c.arena.allocate();
  c.cpu = std::make_unique<SiluModule>(dim);
  c.gpu = [dim](const Context& ctx, DeviceParams&) { return std::make_unique<GpuSiluModule>(ctx, dim); };
  c.x_std = 3.0;
}

TEST(GpuRMSNorm, MatchesCpu) {
  SKIP_WITHOUT_GPU();
  for (int dim : {96, 1100, 4096}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    Case c;
    rmsnorm_case(c, dim);
    expect_matches_cpu(c, 1, 37, 1);
    expect_matches_cpu(c, 5, 29, 2);
  }
}

TEST(GpuLayerNorm, MatchesCpu) {
  SKIP_WITHOUT_GPU();
  for (int dim : {96, 1100, 4096}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    Case c;
    layernorm_case(c, dim);
    expect_matches_cpu(c, 1, 37, 3);
    expect_matches_cpu(c, 5, 29, 4);
  }
}

TEST(GpuHeadNorm, MatchesCpuWithAndWithoutGate) {
  SKIP_WITHOUT_GPU();
  for (bool gated : {false, true}) {
    SCOPED_TRACE(gated ? "gated" : "no gate");
    Case c;
    head_norm_case(c, 3, 40, gated);
    expect_matches_cpu(c, 1, 37, 5);
    expect_matches_cpu(c, 3, 29, 6);
  }
}

TEST(GpuShortConv, MatchesCpuWithAndWithoutSilu) {
  SKIP_WITHOUT_GPU();
  {
    SCOPED_TRACE("W 4, SiLU");
    Case c;
    short_conv_case(c, 40, 4, true);
    expect_matches_cpu(c, 3, 19, 7);
    expect_matches_cpu(c, 3, 45, 8);
  }
  {
    SCOPED_TRACE("W 3, no activation");
    Case c;
    short_conv_case(c, 37, 3, false);
    expect_matches_cpu(c, 3, 19, 9);
    expect_matches_cpu(c, 2, 2, 10);  // T < W: every output sees the zero state
  }
}

TEST(GpuSwiGLUMLP, MatchesCpu) {
  SKIP_WITHOUT_GPU();
  Case c;
  swiglu_mlp_case(c, 96, 136);
  expect_matches_cpu(c, 1, 37, 11);
  expect_matches_cpu(c, 3, 29, 12);
}

TEST(GpuL2Norm, MatchesCpu) {
  SKIP_WITHOUT_GPU();
  for (int dim : {64, 33}) {
    SCOPED_TRACE("K " + std::to_string(dim));
    Case c;
    l2norm_case(c, 3, dim);
    expect_matches_cpu(c, 1, 37, 13);
    expect_matches_cpu(c, 3, 29, 14);
  }
}

TEST(GpuSilu, MatchesCpu) {
  SKIP_WITHOUT_GPU();
  Case c;
  silu_case(c, 50);
  expect_matches_cpu(c, 3, 37, 15);
}

// the norms' backward promises dx may alias dy (the mixers normalise in place)
TEST(GpuNorms, BackwardInPlaceGivesTheSameBits) {
  SKIP_WITHOUT_GPU();
  const long long rows = 150;
  const int dim = 96;
  Rng rng(16);
  const std::vector<float> x = randn(rows * dim, rng), w = randn(dim, rng, 0.3, 1.0), dy = randn(rows * dim, rng),
                           gate = randn(rows * dim, rng);
  Context ctx;
  DeviceBuffer<float> x_d = to_device(ctx, x), w_d = to_device(ctx, w), gate_d = to_device(ctx, gate);
  DeviceBuffer<float> y_d(rows * dim), rstd_d(rows), dw_d(dim), dgate_d(rows * dim), partials;
  DeviceBuffer<float> dx_d(rows * dim);
  for (bool gated : {false, true}) {
    SCOPED_TRACE(gated ? "gated head norm" : "no gate (the RMSNorm kernel)");
    const float* g = gated ? gate_d.data() : nullptr;
    head_norm_forward(ctx, x_d.data(), g, w_d.data(), y_d.data(), rstd_d.data(), rows, dim, 1e-5f);
    DeviceBuffer<float> dy_d = to_device(ctx, dy);
    dw_d.zero(ctx.stream());
    head_norm_backward(ctx, x_d.data(), g, w_d.data(), rstd_d.data(), dy_d.data(), dx_d.data(), dgate_d.data(),
                       dw_d.data(), rows, dim, partials);
    const std::vector<float> apart = to_host(ctx, dx_d.data(), dx_d.size()), dw1 = to_host(ctx, dw_d.data(), dim);
    dw_d.zero(ctx.stream());
    head_norm_backward(ctx, x_d.data(), g, w_d.data(), rstd_d.data(), dy_d.data(), dy_d.data(), dgate_d.data(),
                       dw_d.data(), rows, dim, partials);
    EXPECT_TRUE(same_bits(to_host(ctx, dy_d.data(), dy_d.size()), apart)) << "dx";
    EXPECT_TRUE(same_bits(to_host(ctx, dw_d.data(), dim), dw1)) << "dw";
  }
}

// The mixers' fused layout + L2 norm kernels (projected_recurrence.h) against the plain two-step
// forms (to_heads then l2norm_forward; l2norm_backward then from_heads), with sub-steps (n_h 2), a
// row wider than a warp and one narrower: the same values to 1e-6 (the sums go in another order).
TEST(GpuL2Norm, FusedWithTheHeadLayoutMatchesTheTwoStepForm) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  for (const auto& [n_h, W] : {std::pair{1, 64}, std::pair{2, 48}, std::pair{1, 20}}) {
    SCOPED_TRACE(testing::Message() << "n_h " << n_h << " W " << W);
    const int B = 3, T = 29, H = 2;
    const size_t rows = size_t(B) * H * T * n_h, n = rows * W;
    Rng rng(18);
    const std::vector<float> x = randn(n, rng), dy = randn(n, rng);
    DeviceBuffer<float> x_d = to_device(ctx, x), dy_d = to_device(ctx, dy);
    DeviceBuffer<float> fused(n), fused_rstd(rows), plain(n), plain_rstd(rows);
    const float eps = static_cast<float>(kL2NormEps);
    to_heads_l2norm(ctx, x_d.data(), fused.data(), fused_rstd.data(), B, T, H, n_h, W, eps);
    to_heads(ctx, x_d.data(), plain.data(), B, T, H, n_h, W);
    l2norm_forward(ctx, plain.data(), plain.data(), plain_rstd.data(), rows, W, eps);
    EXPECT_LE(test::relative_rms(to_host(ctx, fused.data(), n), to_host(ctx, plain.data(), n)), 1e-6);
    EXPECT_LE(test::relative_rms(to_host(ctx, fused_rstd.data(), rows), to_host(ctx, plain_rstd.data(), rows)), 1e-6);
    DeviceBuffer<float> dx_fused(n), dx_plain(n), dy_heads(n);
    l2norm_backward_from_heads(ctx, plain.data(), plain_rstd.data(), dy_d.data(), dx_fused.data(), B, T, H, n_h, W);
    l2norm_backward(ctx, plain.data(), plain_rstd.data(), dy_d.data(), dy_heads.data(), rows, W);
    from_heads(ctx, dy_heads.data(), dx_plain.data(), B, T, H, n_h, W);
    EXPECT_LE(test::relative_rms(to_host(ctx, dx_fused.data(), n), to_host(ctx, dx_plain.data(), n)), 1e-6);
  }
}

TEST(GpuLayers, TwoRunsGiveTheSameBits) {
  SKIP_WITHOUT_GPU();
  // more rows than kRowsPerPartial, so every gradient adds several partials
  const int B = 4, T = 45;
  ASSERT_GT(B * T, 2 * kRowsPerPartial);
  const std::vector<std::pair<std::string, std::function<void(Case&)>>> cases = {
      {"rmsnorm", [](Case& c) { rmsnorm_case(c, 1100); }},
      {"layernorm", [](Case& c) { layernorm_case(c, 96); }},
      {"head_norm", [](Case& c) { head_norm_case(c, 3, 40, true); }},
      {"short_conv", [](Case& c) { short_conv_case(c, 40, 4, true); }},
      {"swiglu_mlp", [](Case& c) { swiglu_mlp_case(c, 96, 136); }},
      {"l2norm", [](Case& c) { l2norm_case(c, 3, 64); }},
      {"silu", [](Case& c) { silu_case(c, 50); }},
  };
  for (const auto& [name, build] : cases) {
    SCOPED_TRACE(name);
    Case c;
    build(c);
    expect_deterministic(c, B, T, 17);
  }
}

}  // namespace
}  // namespace db::cuda
