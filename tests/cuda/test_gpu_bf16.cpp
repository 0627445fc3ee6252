// test_gpu_bf16.cpp: train.precision: bf16's storage on the GPU (models/cuda/bf16.h).
//
// A bf16 run stores activations and the weights' GEMM copies in bf16 and computes in fp32. So a
// kernel that reads a stored bf16 activation must compute what its fp32 form computes from the
// same values widened to fp32, and a kernel that stores a bf16 output must store that fp32 result
// rounded. Each kernel with a bf16 form is run both ways here on random inputs that are first
// rounded to bf16 (so both forms see the same numbers), with fp32 outputs and gradients compared
// to 1e-6 relative RMS and bf16 outputs to the rounding of the fp32 ones. The GEMM's bf16 operands
// are the fp32 ones rounded, and the parameters' bf16 copy follows the values. Skips without a GPU.
// Shapes: rows, n elements, B batch, T time, C channels, W taps, V head dim, D width.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/rng.h"
#include "models/core/params.h"
#include "models/cuda/bf16.h"
#include "models/cuda/blas.h"
#include "models/cuda/device_params.h"
#include "models/cuda/runtime.h"
#include "models/layers/cuda/gpu_lm_head_loss.h"
#include "models/layers/cuda/norms.h"
#include "models/layers/cuda/short_conv.h"
#include "models/layers/cuda/swiglu.h"
#include "tests/common/relative_rms.h"
#include "tests/cuda/device_copies.h"

namespace db::cuda {
namespace {

using test::to_device;
using test::to_host;

constexpr double kSameArithmetic = 1e-6;

// a value in both storages: bf16, and the same numbers widened to fp32
struct Pair {
  DeviceBuffer<bf16> b;
  DeviceBuffer<float> f;
};

Pair random_pair(const Context& ctx, size_t n, Rng& rng, double scale = 1.0) {
  std::vector<float> host(n);
  for (auto& v : host) v = static_cast<float>(rng.normal() * scale);
  const DeviceBuffer<float> raw = to_device(ctx, host);
  Pair p;
  p.b.resize(n), p.f.resize(n);
  round_to_bf16(ctx, raw.data(), p.b.data(), n);
  widen_to_fp32(ctx, p.b.data(), p.f.data(), n);
  return p;
}

DeviceBuffer<float> random_floats(const Context& ctx, size_t n, Rng& rng, double scale = 1.0, double mean = 0.0) {
  std::vector<float> host(n);
  for (auto& v : host) v = static_cast<float>(mean + rng.normal() * scale);
  return to_device(ctx, host);
}

// a bf16 buffer widened to fp32, as host floats
std::vector<float> host_of(const Context& ctx, const bf16* device, size_t n) {
  DeviceBuffer<float> wide(n);
  widen_to_fp32(ctx, device, wide.data(), n);
  return to_host(ctx, wide.data(), n);
}

// the fp32 buffer rounded to bf16, as host floats
std::vector<float> rounded(const Context& ctx, const float* device, size_t n) {
  DeviceBuffer<bf16> r(n);
  round_to_bf16(ctx, device, r.data(), n);
  return host_of(ctx, r.data(), n);
}

TEST(Bf16Storage, RoundingIsToNearestEvenAndWideningExact) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1 + 2^-7: ties to even gives 1;
  // 1 + 3 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties to even gives 1 + 2^-6
  const std::vector<float> in = {1.f + 0x1p-8f, 1.f + 3 * 0x1p-8f, 1.f + 0x1p-7f, -2.5f, 0.f};
  const std::vector<float> expected = {1.f, 1.f + 0x1p-6f, 1.f + 0x1p-7f, -2.5f, 0.f};
  const DeviceBuffer<float> d = to_device(ctx, in);
  EXPECT_EQ(rounded(ctx, d.data(), in.size()), expected);
}

TEST(Bf16Kernels, SwigluAndSiluComputeWhatTheFp32FormsComputeFromTheSameValues) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  Rng rng(1);
  const long long n = 3 * 1000 + 7;
  Pair g = random_pair(ctx, n, rng, 3.0), u = random_pair(ctx, n, rng);
  DeviceBuffer<float> dh = random_floats(ctx, n, rng);
  DeviceBuffer<float> h32(n), dg32(n), du32(n), dg16(n), du16(n), y32(n), y16(n), dx32(n), dx16(n);
  DeviceBuffer<bf16> h16(n);
  swiglu_forward(ctx, g.f.data(), u.f.data(), h32.data(), n);
  swiglu_forward(ctx, g.b.data(), u.b.data(), h16.data(), n);
  EXPECT_EQ(host_of(ctx, h16.data(), n), rounded(ctx, h32.data(), n)) << "h is the fp32 h rounded";
  swiglu_backward(ctx, g.f.data(), u.f.data(), dh.data(), dg32.data(), du32.data(), n);
  swiglu_backward(ctx, g.b.data(), u.b.data(), dh.data(), dg16.data(), du16.data(), n);
  EXPECT_LE(test::relative_rms(to_host(ctx, dg16.data(), n), to_host(ctx, dg32.data(), n)), kSameArithmetic);
  EXPECT_LE(test::relative_rms(to_host(ctx, du16.data(), n), to_host(ctx, du32.data(), n)), kSameArithmetic);
  silu_forward(ctx, g.f.data(), y32.data(), n);
  silu_forward(ctx, g.b.data(), y16.data(), n);
  EXPECT_LE(test::relative_rms(to_host(ctx, y16.data(), n), to_host(ctx, y32.data(), n)), kSameArithmetic);
  silu_backward(ctx, g.f.data(), dh.data(), dx32.data(), n);
  silu_backward(ctx, g.b.data(), dh.data(), dx16.data(), n);
  EXPECT_LE(test::relative_rms(to_host(ctx, dx16.data(), n), to_host(ctx, dx32.data(), n)), kSameArithmetic);
}

TEST(Bf16Kernels, ShortConvReadsItsStoredInputAndPreActivationAsFp32Would) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  Rng rng(2);
  const int B = 3, T = 45, C = 37, W = 4;
  const size_t n = size_t(B) * T * C;
  Pair x = random_pair(ctx, n, rng);
  DeviceBuffer<float> w = random_floats(ctx, size_t(C) * W, rng, 0.5), dy = random_floats(ctx, n, rng);
  DeviceBuffer<float> y32(n), y16(n), z32(n), dx32(n), dx16(n), dw32(size_t(C) * W), dw16(size_t(C) * W);
  DeviceBuffer<bf16> z16(n);
  DeviceBuffer<float> dz, partials;
  short_conv_forward(ctx, x.b.data(), w.data(), y16.data(), z16.data(), B, T, C, W, true);
  // the fp32 reference from the stored pre-activation: z as the bf16 run stored it
  DeviceBuffer<float> z_stored(n);
  widen_to_fp32(ctx, z16.data(), z_stored.data(), n);
  short_conv_forward(ctx, x.f.data(), w.data(), y32.data(), z32.data(), B, T, C, W, true);
  EXPECT_EQ(host_of(ctx, z16.data(), n), rounded(ctx, z32.data(), n)) << "z is the fp32 z rounded";
  silu_forward(ctx, z_stored.data(), y32.data(), static_cast<long long>(n));
  EXPECT_LE(test::relative_rms(to_host(ctx, y16.data(), n), to_host(ctx, y32.data(), n)), kSameArithmetic)
      << "y is silu of the stored z";
  dw32.zero(ctx.stream()), dw16.zero(ctx.stream());
  short_conv_backward(ctx, x.f.data(), w.data(), z_stored.data(), dy.data(), dx32.data(), dw32.data(), B, T, C, W,
                      true, dz, partials);
  short_conv_backward(ctx, x.b.data(), w.data(), z16.data(), dy.data(), dx16.data(), dw16.data(), B, T, C, W, true,
                      dz, partials);
  EXPECT_LE(test::relative_rms(to_host(ctx, dx16.data(), n), to_host(ctx, dx32.data(), n)), kSameArithmetic);
  EXPECT_LE(test::relative_rms(to_host(ctx, dw16.data(), size_t(C) * W), to_host(ctx, dw32.data(), size_t(C) * W)),
            kSameArithmetic);
}

TEST(Bf16Kernels, HeadNormReadsStoredOAndGateAndStoresItsOutputRounded) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  Rng rng(3);
  const long long rows = 3 * 29 * 2;  // B*T*H, more than one gradient partial
  const int V = 40;
  const size_t n = size_t(rows) * V;
  Pair o = random_pair(ctx, n, rng), gate = random_pair(ctx, n, rng, 2.0);
  DeviceBuffer<float> w = random_floats(ctx, V, rng, 0.3, 1.0), dy = random_floats(ctx, n, rng);
  DeviceBuffer<float> y32(n), rstd32(rows), rstd16(rows), do32(n), do16(n), dg32(n), dg16(n), dw32(V), dw16(V), part;
  DeviceBuffer<bf16> y16(n);
  head_norm_forward(ctx, o.f.data(), gate.f.data(), w.data(), y32.data(), rstd32.data(), rows, V, 1e-5f);
  head_norm_forward(ctx, o.b.data(), gate.b.data(), w.data(), y16.data(), rstd16.data(), rows, V, 1e-5f);
  EXPECT_EQ(host_of(ctx, y16.data(), n), rounded(ctx, y32.data(), n));
  EXPECT_LE(test::relative_rms(to_host(ctx, rstd16.data(), rows), to_host(ctx, rstd32.data(), rows)), kSameArithmetic);
  dw32.zero(ctx.stream()), dw16.zero(ctx.stream());
  head_norm_backward(ctx, o.f.data(), gate.f.data(), w.data(), rstd32.data(), dy.data(), do32.data(), dg32.data(),
                     dw32.data(), rows, V, part);
  head_norm_backward(ctx, o.b.data(), gate.b.data(), w.data(), rstd16.data(), dy.data(), do16.data(), dg16.data(),
                     dw16.data(), rows, V, part);
  EXPECT_LE(test::relative_rms(to_host(ctx, do16.data(), n), to_host(ctx, do32.data(), n)), kSameArithmetic);
  EXPECT_LE(test::relative_rms(to_host(ctx, dg16.data(), n), to_host(ctx, dg32.data(), n)), kSameArithmetic);
  EXPECT_LE(test::relative_rms(to_host(ctx, dw16.data(), V), to_host(ctx, dw32.data(), V)), kSameArithmetic);
}

// In a bf16 run a GEMM given bf16 operands computes what it computes from fp32 operands it rounds
// itself (the same bits: the same cuBLAS call on the same numbers); a bf16 output is the fp32
// output within one bf16 rounding.
TEST(Bf16Gemm, Bf16OperandsAreTheRoundedFp32OnesAndABf16OutputIsTheRoundedResult) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  ctx.set_precision(Precision::bf16);
  Rng rng(4);
  const int rows = 300, in = 96, out = 136;
  DeviceBuffer<float> x = random_floats(ctx, size_t(rows) * in, rng), w = random_floats(ctx, size_t(out) * in, rng);
  DeviceBuffer<bf16> x16(x.size()), w16(w.size()), y16(size_t(rows) * out);
  round_to_bf16(ctx, x.data(), x16.data(), x.size());
  round_to_bf16(ctx, w.data(), w16.data(), w.size());
  DeviceBuffer<float> from_fp32(size_t(rows) * out), from_bf16(size_t(rows) * out);
  linear_forward(ctx, static_cast<const float*>(x.data()), static_cast<const float*>(w.data()), from_fp32.data(), rows,
                 in, out);
  linear_forward(ctx, static_cast<const bf16*>(x16.data()), static_cast<const bf16*>(w16.data()), from_bf16.data(),
                 rows, in, out);
  const std::vector<float> a = to_host(ctx, from_fp32.data(), from_fp32.size());
  EXPECT_EQ(a, to_host(ctx, from_bf16.data(), from_bf16.size()));
  linear_forward(ctx, static_cast<const bf16*>(x16.data()), static_cast<const bf16*>(w16.data()), y16.data(), rows,
                 in, out);
  const std::vector<float> b = host_of(ctx, y16.data(), y16.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(b[i]) - a[i]) / std::abs(double(a[i])));
  EXPECT_LE(worst, 0x1p-8) << "one bf16 rounding (relative 2^-8 at most)";
  // an fp32 context does not round: its product differs by more than fp32 noise
  Context fp32;
  DeviceBuffer<float> exact(size_t(rows) * out);
  linear_forward(fp32, static_cast<const float*>(x.data()), static_cast<const float*>(w.data()), exact.data(), rows, in,
                 out);
  EXPECT_GT(test::relative_rms(a, to_host(fp32, exact.data(), exact.size())), 1e-4);
}

// The head in a bf16 run reads bf16 operands and writes dlogits as bf16 for its GEMMs; against the
// fp32 head on the same inputs its loss, dhidden, dW and dbias stay within bf16 rounding, with one
// block and several, a bias or none, and rows staged in shared memory (N 1000) or not (N 13001).
TEST(Bf16Head, StaysWithinBf16RoundingOfTheFp32Head) {
  SKIP_WITHOUT_GPU();
  Rng rng(6);
  const int64_t M = 37;
  const int D = 48;
  Context setup;
  for (const int N : {1000, 13001}) {
    DeviceBuffer<float> hidden = random_floats(setup, size_t(M) * D, rng);
    DeviceBuffer<float> weight = random_floats(setup, size_t(N) * D, rng, 0.3);
    DeviceBuffer<float> bias = random_floats(setup, N, rng, 0.5);
    std::vector<int32_t> targets(M);
    for (auto& t : targets) t = static_cast<int32_t>(rng.below(N));
    const DeviceBuffer<int32_t> d_targets = to_device(setup, targets);
    for (const bool with_bias : {true, false})
      for (const int row_block : {GpuLmHeadLoss::kMaxRowBlock, 16}) {
        SCOPED_TRACE(testing::Message() << "N " << N << " bias " << with_bias << " row block " << row_block);
        struct Out {
          double loss;
          std::vector<float> dhidden, dweight, dbias;
        };
        auto run = [&](Precision precision) {
          Context ctx;
          ctx.set_precision(precision);
          DeviceBuffer<float> dweight(size_t(N) * D), dbias(N);
          dweight.zero(ctx.stream()), dbias.zero(ctx.stream());
          GpuLmHeadLoss head(ctx, row_block);
          head.forward(static_cast<const float*>(hidden.data()), M, D, static_cast<const float*>(weight.data()),
                       with_bias ? bias.data() : nullptr, N, d_targets.data(), nullptr, 1.f / M);
          const float* dh = head.backward(dweight.data(), with_bias ? dbias.data() : nullptr);
          return Out{head.loss_sum(), to_host(ctx, dh, size_t(M) * D), to_host(ctx, dweight.data(), dweight.size()),
                     to_host(ctx, dbias.data(), N)};
        };
        const Out f = run(Precision::fp32), b = run(Precision::bf16);
        EXPECT_LE(std::abs(b.loss - f.loss) / std::abs(f.loss), 1e-2);
        EXPECT_LE(test::relative_rms(b.dhidden, f.dhidden), 2e-2);
        EXPECT_LE(test::relative_rms(b.dweight, f.dweight), 2e-2);
        if (with_bias) {
          EXPECT_LE(test::relative_rms(b.dbias, f.dbias), 2e-2);
        }
        EXPECT_GT(test::relative_rms(b.dweight, f.dweight), 1e-5) << "the bf16 run rounds";
      }
  }
}

TEST(Bf16Params, TheBf16CopyFollowsTheValuesAndIsTheOperandOfABf16Run) {
  SKIP_WITHOUT_GPU();
  ParamArena arena;
  {
    ParamArena::Scope scope(arena, "layer");
    arena.add("weight", {3, 50}, ParamInit::normal(1.0));
  }
  arena.allocate();
  Rng rng(5);
  arena.initialize(rng);
  Context ctx;
  DeviceParams params(arena, ctx);
  const DeviceParam w = params["layer.weight"];
  EXPECT_FALSE(w.operand(ctx).is_bf16);
  ctx.set_precision(Precision::bf16);
  EXPECT_TRUE(w.operand(ctx).is_bf16);
  params.refresh_bf16_copy();
  EXPECT_EQ(host_of(ctx, w.value_bf16, w.size), rounded(ctx, w.value, w.size));
  // values changed on the device (as AdamW changes them): the copy follows after a refresh
  DeviceBuffer<float> other = random_floats(ctx, arena.size(), rng);
  DB_CUDA_CHECK(cudaMemcpyAsync(params.values(), other.data(), other.bytes(), cudaMemcpyDeviceToDevice, ctx.stream()));
  params.refresh_bf16_copy();
  EXPECT_EQ(host_of(ctx, w.value_bf16, w.size), rounded(ctx, other.data(), w.size));
}

}  // namespace
}  // namespace db::cuda
