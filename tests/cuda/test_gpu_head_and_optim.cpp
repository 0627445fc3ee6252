// test_gpu_head_and_optim.cpp: the GPU input layers, LM head and optimizer against the CPU path.
//
// Each CUDA half must compute what its CPU layer computes (relative RMS <= 1e-5 on the same inputs;
// the orders of floating-point sums differ, so bits may not) and must give the same bits on every
// run (no atomics anywhere). Inputs include the hard cases: ids repeated across the backward's
// sort chunks, a head over several row blocks, ties in the argmax, clipping that does and does not
// trigger. Every test skips where no GPU is visible.
// Shapes: B batch, T time, D width, N vocabulary, M labelled rows, H heads, K head dim.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "models/cuda/device_params.h"
#include "models/cuda/runtime.h"
#include "models/layers/cuda/embedding.h"
#include "models/layers/cuda/gpu_lm_head_loss.h"
#include "models/layers/cuda/lm_head_loss.h"
#include "models/layers/cuda/rope.h"
#include "models/layers/embedding.h"
#include "models/layers/lm_head_loss.h"
#include "models/layers/position_embedding.h"
#include "models/layers/rope.h"
#include "models/optim/adamw.h"
#include "models/optim/cuda/gpu_adamw.h"
#include "tests/common/relative_rms.h"
#include "tests/cuda/device_copies.h"

namespace db::cuda {
namespace {

using db::test::relative_rms;
using db::test::same_bits;
using db::test::to_device;
using db::test::to_host;

constexpr double kTolerance = 1e-5;

std::vector<float> random_floats(size_t n, Rng& rng, double scale = 1.0) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.normal() * scale);
  return v;
}

// ids [B*T]: the first half from a handful of ids, so runs span several 64-entry sort chunks
std::vector<int32_t> repeated_ids(int n, int N, Rng& rng) {
  std::vector<int32_t> ids(n);
  for (int i = 0; i < n; ++i) ids[i] = static_cast<int32_t>(i < n / 2 ? rng.below(std::min(N, 5)) : rng.below(N));
  return ids;
}

TEST(GpuEmbedding, ForwardAndBackwardWithRepeatedIdsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  struct Shape {
    int N, D, B, T;
  };
  for (const Shape s : {Shape{50, 40, 4, 50}, Shape{7, 300, 3, 70}, Shape{1000, 16, 2, 5}}) {
    SCOPED_TRACE(testing::Message() << "N " << s.N << " D " << s.D << " B " << s.B << " T " << s.T);
    ParamArena arena;
    Embedding emb(arena, "emb", s.N, s.D);
    Rng rng(7);
    arena.initialize(rng);
    const int n = s.B * s.T;
    const auto ids = repeated_ids(n, s.N, rng);
    const auto dy = random_floats(size_t(n) * s.D, rng);
    const auto grad0 = random_floats(size_t(s.N) * s.D, rng);  // backward must add to what is there
    std::copy(grad0.begin(), grad0.end(), emb.weight.grad());
    std::vector<float> y(size_t(n) * s.D);
    emb.forward(ids.data(), y.data(), s.B, s.T);
    emb.backward(dy.data());

    auto d_w = to_device(ctx, emb.weight.data(), emb.weight.size());
    auto d_ids = to_device(ctx, ids);
    auto d_dy = to_device(ctx, dy);
    auto d_grad = to_device(ctx, grad0);
    DeviceBuffer<float> d_y(y.size());
    EmbeddingScratch scratch;
    embedding_forward(ctx, d_ids.data(), d_w.data(), d_y.data(), n, s.D);
    embedding_backward(ctx, d_ids.data(), d_dy.data(), d_grad.data(), n, s.N, s.D, scratch);
    EXPECT_TRUE(same_bits(to_host(ctx, d_y.data(), y.size()), y));  // a copy: exact
    const std::vector<float> cpu_grad(emb.weight.grad(), emb.weight.grad() + emb.weight.size());
    EXPECT_LE(relative_rms(to_host(ctx, d_grad.data(), cpu_grad.size()), cpu_grad), kTolerance);
  }
}

TEST(GpuPositionEmbedding, ForwardAndBackwardMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  const int Tmax = 32, D = 24, B = 3, T = 20, t0 = 5;
  ParamArena arena;
  PositionEmbedding pe(arena, "wpe", Tmax, D);
  Rng rng(3);
  arena.initialize(rng);
  const size_t n = size_t(B) * T * D;
  const auto x = random_floats(n, rng), dy = random_floats(n, rng);
  const auto grad0 = random_floats(pe.weight.size(), rng);
  std::copy(grad0.begin(), grad0.end(), pe.weight.grad());
  std::vector<float> y(n), dx(n);
  pe.forward_at(x.data(), y.data(), B, T, t0);
  pe.backward(dy.data(), dx.data());

  auto d_table = to_device(ctx, pe.weight.data(), pe.weight.size());
  auto d_x = to_device(ctx, x), d_dy = to_device(ctx, dy), d_grad = to_device(ctx, grad0);
  DeviceBuffer<float> d_y(n), d_dx(n);
  position_embedding_forward(ctx, d_x.data(), d_table.data(), d_y.data(), B, T, D, t0, Tmax);
  position_embedding_backward(ctx, d_dy.data(), d_dx.data(), d_grad.data(), B, T, D, t0);
  EXPECT_LE(relative_rms(to_host(ctx, d_y.data(), n), y), kTolerance);
  EXPECT_TRUE(same_bits(to_host(ctx, d_dx.data(), n), dx));
  const std::vector<float> cpu_grad(pe.weight.grad(), pe.weight.grad() + pe.weight.size());
  EXPECT_LE(relative_rms(to_host(ctx, d_grad.data(), cpu_grad.size()), cpu_grad), kTolerance);
  EXPECT_THROW(position_embedding_forward(ctx, d_x.data(), d_table.data(), d_y.data(), B, T, D, Tmax - T + 1, Tmax),
               std::out_of_range);
}

TEST(GpuRope, ForwardAndBackwardMatchTheCpuWithOffsetAndRowStride) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  const int K = 16, H = 3, B = 2, T = 9, t0 = 4;
  for (const long long stride : {0LL, static_cast<long long>(H) * K + 8}) {
    SCOPED_TRACE(testing::Message() << "row stride " << stride);
    const size_t n = size_t(B) * T * (stride ? stride : H * K);
    Rng rng(11);
    const auto x0 = random_floats(n, rng), dx0 = random_floats(n, rng);
    Rope rope(K);
    RealVector x(x0.begin(), x0.end()), dx(dx0.begin(), dx0.end());
    rope.forward(x.data(), B, T, H, t0, stride);
    rope.backward(dx.data(), B, T, H, t0, stride);

    GpuRope gpu_rope(K);
    auto d_x = to_device(ctx, x0), d_dx = to_device(ctx, dx0);
    gpu_rope.forward(ctx, d_x.data(), B, T, H, t0, stride);
    gpu_rope.backward(ctx, d_dx.data(), B, T, H, t0, stride);
    EXPECT_LE(relative_rms(to_host(ctx, d_x.data(), n), x), kTolerance);
    EXPECT_LE(relative_rms(to_host(ctx, d_dx.data(), n), dx), kTolerance);
    // backward undoes forward
    gpu_rope.backward(ctx, d_x.data(), B, T, H, t0, stride);
    EXPECT_LE(relative_rms(to_host(ctx, d_x.data(), n), x0), kTolerance);
  }
}

// the inputs of one head evaluation
struct HeadCase {
  int64_t M = 37;
  int D = 48, N = 1000;
  std::vector<float> hidden, weight, bias, dweight0, dbias0;
  std::vector<int32_t> targets;
  explicit HeadCase(uint64_t seed, int64_t rows = 37, int vocab = 1000) : M(rows), N(vocab) {
    Rng rng(seed);
    hidden = random_floats(size_t(M) * D, rng);
    weight = random_floats(size_t(N) * D, rng, 0.3);
    bias = random_floats(N, rng, 0.5);
    dweight0 = random_floats(weight.size(), rng);
    dbias0 = random_floats(N, rng);
    targets.resize(M);
    for (auto& t : targets) t = static_cast<int32_t>(rng.below(N));
  }
};

// N 1000 and 999 keep a row in shared memory, N 13000 and 13001 are above kMaxStagedRow and re-read
// it; 1000 and 13000 are read in groups of 4 columns, 999 and 13001 column by column (lm_head_loss.cu)
class GpuLmHeadLossVocab : public ::testing::TestWithParam<int> {};

TEST_P(GpuLmHeadLossVocab, LossArgmaxAndGradientsMatchTheCpuInOneAndSeveralBlocks) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  const HeadCase c(5, 37, GetParam());
  const float grad_scale = 1.f / static_cast<float>(c.M);
  for (const bool with_bias : {true, false}) {
    const float* bias = with_bias ? c.bias.data() : nullptr;
    LmHeadLoss cpu;
    std::vector<int32_t> argmax(c.M);
    const double loss = cpu.forward(c.hidden.data(), c.M, c.D, c.weight.data(), bias, c.N, c.targets.data(),
                                    argmax.data(), grad_scale);
    std::vector<float> dweight = c.dweight0, dbias = c.dbias0;
    const real* dh = cpu.backward(dweight.data(), with_bias ? dbias.data() : nullptr);
    const std::vector<float> dhidden(dh, dh + c.hidden.size());

    for (const int row_block : {GpuLmHeadLoss::kMaxRowBlock, 16}) {  // 1 block; 3 blocks (16, 16, 5 rows)
      SCOPED_TRACE(testing::Message() << "bias " << with_bias << " row block " << row_block);
      auto d_hidden = to_device(ctx, c.hidden), d_weight = to_device(ctx, c.weight), d_bias = to_device(ctx, c.bias);
      auto d_targets = to_device(ctx, c.targets);
      auto d_dweight = to_device(ctx, c.dweight0), d_dbias = to_device(ctx, c.dbias0);
      DeviceBuffer<int32_t> d_argmax(c.M);
      GpuLmHeadLoss head(ctx, row_block);
      head.forward(d_hidden.data(), c.M, c.D, d_weight.data(), with_bias ? d_bias.data() : nullptr, c.N,
                   d_targets.data(), d_argmax.data(), grad_scale);
      const float* d_dh = head.backward(d_dweight.data(), with_bias ? d_dbias.data() : nullptr);
      ASSERT_NE(d_dh, nullptr);
      EXPECT_LE(std::abs(head.loss_sum() - loss) / std::abs(loss), kTolerance);
      EXPECT_EQ(to_host(ctx, d_argmax.data(), c.M), argmax);
      EXPECT_LE(relative_rms(to_host(ctx, d_dh, dhidden.size()), dhidden), kTolerance);
      EXPECT_LE(relative_rms(to_host(ctx, d_dweight.data(), dweight.size()), dweight), kTolerance);
      const auto gpu_dbias = to_host(ctx, d_dbias.data(), c.N);
      if (with_bias)
        EXPECT_LE(relative_rms(gpu_dbias, dbias), kTolerance);
      else
        EXPECT_TRUE(same_bits(gpu_dbias, c.dbias0));  // no bias: dbias untouched
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, GpuLmHeadLossVocab, ::testing::Values(1000, 999, 13000, 13001));

TEST(GpuLmHeadLoss, ForwardWithoutGradientLeavesNothingForBackward) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  const HeadCase c(6);
  LmHeadLoss cpu;
  const double loss = cpu.forward(c.hidden.data(), c.M, c.D, c.weight.data(), c.bias.data(), c.N, c.targets.data(),
                                  nullptr, 0.f);
  auto d_hidden = to_device(ctx, c.hidden), d_weight = to_device(ctx, c.weight), d_bias = to_device(ctx, c.bias);
  auto d_targets = to_device(ctx, c.targets);
  auto d_dweight = to_device(ctx, c.dweight0);
  GpuLmHeadLoss head(ctx);
  head.forward(d_hidden.data(), c.M, c.D, d_weight.data(), d_bias.data(), c.N, d_targets.data(), nullptr, 0.f);
  EXPECT_LE(std::abs(head.loss_sum() - loss) / std::abs(loss), kTolerance);
  EXPECT_EQ(head.backward(d_dweight.data(), nullptr), nullptr);
  EXPECT_TRUE(same_bits(to_host(ctx, d_dweight.data(), c.dweight0.size()), c.dweight0));
  // no labelled rows: the loss is 0
  head.forward(d_hidden.data(), 0, c.D, d_weight.data(), d_bias.data(), c.N, d_targets.data(), nullptr, 1.f);
  EXPECT_EQ(head.loss_sum(), 0.0);
  EXPECT_EQ(head.backward(d_dweight.data(), nullptr), nullptr);
}

TEST(GpuLmHeadLoss, ArgmaxTiesGoToTheFirstIndexAsOnTheCpu) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  const int N = 700, rows = 3;
  std::vector<float> logits(size_t(rows) * N, 0.f);
  for (int j : {650, 18, 17, 300}) logits[j] = 5.f;               // row 0: four equal maxima, two in one column group
  for (int j : {699, 512}) logits[size_t(2) * N + j] = -1.f;      // row 2: all equal but two
  const std::vector<int32_t> targets = {1, 2, 3};
  std::vector<int32_t> cpu_argmax(rows);
  for (int r = 0; r < rows; ++r) {
    Index best = 0;
    ConstVecMap(logits.data() + size_t(r) * N, N).maxCoeff(&best);
    cpu_argmax[r] = static_cast<int32_t>(best);
  }
  ASSERT_EQ(cpu_argmax, (std::vector<int32_t>{17, 0, 0}));
  auto d_logits = to_device(ctx, logits);
  auto d_targets = to_device(ctx, targets);
  DeviceBuffer<int32_t> d_argmax(rows);
  DeviceBuffer<double> d_loss(rows);
  head_softmax_cross_entropy(ctx, d_logits.data(), nullptr, rows, N, d_targets.data(), d_argmax.data(),
                             d_loss.data(), 0.f);
  EXPECT_EQ(to_host(ctx, d_argmax.data(), rows), cpu_argmax);
}

TEST(GpuLmHeadLoss, LogitsOfAllRowsAndRowGatherScatterMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  const HeadCase c(8);
  std::vector<float> logits(size_t(c.M) * c.N);
  LmHeadLoss::logits(c.hidden.data(), c.M, c.D, c.weight.data(), c.bias.data(), c.N, logits.data());
  auto d_hidden = to_device(ctx, c.hidden), d_weight = to_device(ctx, c.weight), d_bias = to_device(ctx, c.bias);
  DeviceBuffer<float> d_logits(logits.size());
  GpuLmHeadLoss::logits(ctx, d_hidden.data(), c.M, c.D, d_weight.data(), d_bias.data(), c.N, d_logits.data());
  EXPECT_LE(relative_rms(to_host(ctx, d_logits.data(), logits.size()), logits), kTolerance);

  // labelled positions 0, 3, 6, ... of the 37 rows, as int64 (the CPU model's) and int32 lists
  std::vector<int64_t> pos64;
  for (int64_t r = 0; r < c.M; r += 3) pos64.push_back(r);
  const std::vector<int32_t> pos32(pos64.begin(), pos64.end());
  const int64_t m = static_cast<int64_t>(pos64.size());
  std::vector<float> gathered(size_t(m) * c.D), scattered(c.hidden.size(), 0.f);
  for (int64_t i = 0; i < m; ++i) {
    std::copy_n(c.hidden.data() + pos64[i] * c.D, c.D, gathered.data() + i * c.D);
    std::copy_n(gathered.data() + i * c.D, c.D, scattered.data() + pos64[i] * c.D);
  }
  auto d_pos64 = to_device(ctx, pos64);
  auto d_pos32 = to_device(ctx, pos32);
  DeviceBuffer<float> d_gathered(gathered.size()), d_scattered(scattered.size());
  gather_rows(ctx, d_hidden.data(), d_pos64.data(), m, c.D, d_gathered.data());
  EXPECT_TRUE(same_bits(to_host(ctx, d_gathered.data(), gathered.size()), gathered));
  d_gathered.zero(ctx.stream());
  gather_rows(ctx, d_hidden.data(), d_pos32.data(), m, c.D, d_gathered.data());
  EXPECT_TRUE(same_bits(to_host(ctx, d_gathered.data(), gathered.size()), gathered));
  for (int pass = 0; pass < 2; ++pass) {
    d_scattered.zero(ctx.stream());
    if (pass == 0)
      scatter_rows(ctx, d_gathered.data(), d_pos64.data(), m, c.D, d_scattered.data());
    else
      scatter_rows(ctx, d_gathered.data(), d_pos32.data(), m, c.D, d_scattered.data());
    EXPECT_TRUE(same_bits(to_host(ctx, d_scattered.data(), scattered.size()), scattered)) << "pass " << pass;
  }
}

// a small model's worth of parameters, with and without weight decay
void declare_params(ParamArena& arena) {
  arena.add("w", {40, 30}, ParamInit::normal(0.5));
  arena.add("norm", {30}, ParamInit::ones(), /*weight_decay=*/false);
  arena.add("b", {17}, ParamInit::zeros(), /*weight_decay=*/false);
  arena.add("e", {100, 8}, ParamInit::normal(0.2));
}

constexpr AdamWConfig kAdamW{0.9, 0.95, 1e-8, 0.1};
constexpr double kMaxNorm = 1.0;

// step k's gradients: steps 0 and 2 far above the clip norm, step 1 below it
std::vector<float> step_gradients(size_t n, int k) {
  Rng rng(100 + k);
  return random_floats(n, rng, k == 1 ? 1e-3 : 0.5);
}

TEST(GpuAdamW, ClipAndThreeStepsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  ParamArena arena;
  declare_params(arena);
  Rng rng(1);
  arena.initialize(rng);
  DeviceParams params(arena, ctx);  // the starting values, before the CPU steps them
  GpuAdamW gpu(params, ctx, kAdamW);
  GpuGradientClipper clipper(ctx);
  AdamW cpu(arena, kAdamW);
  const size_t n = arena.size();
  const double lrs[3] = {1e-2, 5e-3, 2e-3};
  for (int k = 0; k < 3; ++k) {
    SCOPED_TRACE(testing::Message() << "step " << k);
    const auto g = step_gradients(n, k);
    std::copy(g.begin(), g.end(), arena.grad());
    const double norm = clip_gradient_norm(arena, kMaxNorm);
    cpu.step(lrs[k]);
    upload(g.data(), params.grads(), n, ctx.stream());
    clipper.clip(params.grads(), n, kMaxNorm);
    EXPECT_LE(std::abs(clipper.last_norm() - norm) / norm, 1e-12);
    EXPECT_EQ(norm > kMaxNorm, k != 1);
    const std::vector<float> clipped(arena.grad(), arena.grad() + n);
    EXPECT_LE(relative_rms(to_host(ctx, params.grads(), n), clipped), kTolerance);
    gpu.step(lrs[k]);
  }
  EXPECT_EQ(gpu.steps_taken(), 3);
  const std::vector<float> values(arena.data(), arena.data() + n);
  EXPECT_LE(relative_rms(to_host(ctx, params.values(), n), values), kTolerance);
  EXPECT_LE(relative_rms(to_host(ctx, gpu.first_moment(), n), cpu.first_moment()), kTolerance);
  EXPECT_LE(relative_rms(to_host(ctx, gpu.second_moment(), n), cpu.second_moment()), kTolerance);
  // the checkpoint route: the state lands in a host AdamW as the CPU optimizer's own
  AdamW snapshot(arena, kAdamW);
  gpu.download_state(snapshot);
  EXPECT_EQ(snapshot.steps_taken(), 3);
  EXPECT_LE(relative_rms(snapshot.first_moment(), cpu.first_moment()), kTolerance);
  EXPECT_LE(relative_rms(snapshot.second_moment(), cpu.second_moment()), kTolerance);
}

TEST(GpuAdamW, DeviceLearningRateGivesTheHostArgumentsBitsAndStateRoundTrips) {
  SKIP_WITHOUT_GPU();
  Context ctx;
  ParamArena arena;
  declare_params(arena);
  Rng rng(2);
  arena.initialize(rng);
  DeviceParams a(arena, ctx), b(arena, ctx);
  GpuAdamW opt_a(a, ctx, kAdamW), opt_b(b, ctx, kAdamW);
  const size_t n = arena.size();
  DeviceBuffer<double> lr_device(1);
  const double lrs[4] = {3e-3, 2.9e-3, 1e-3, 7.3e-4};  // none exact in binary: the device must read them as doubles
  auto step_both = [&](GpuAdamW& first, GpuAdamW& second, int k) {
    const auto g = step_gradients(n, k);
    upload(g.data(), a.grads(), n, ctx.stream());
    upload(g.data(), b.grads(), n, ctx.stream());
    upload(&lrs[k], lr_device.data(), 1, ctx.stream());
    first.step(lrs[k]);
    second.step_with_device_lr(lr_device.data());
    ctx.synchronize();
  };
  for (int k = 0; k < 3; ++k) step_both(opt_a, opt_b, k);
  EXPECT_TRUE(same_bits(to_host(ctx, a.values(), n), to_host(ctx, b.values(), n)));
  EXPECT_TRUE(same_bits(to_host(ctx, opt_a.first_moment(), n), to_host(ctx, opt_b.first_moment(), n)));
  EXPECT_TRUE(same_bits(to_host(ctx, opt_a.second_moment(), n), to_host(ctx, opt_b.second_moment(), n)));
  EXPECT_EQ(opt_b.steps_taken(), 3);

  // b's state through a host AdamW into a fresh optimizer, which then steps as a would
  AdamW snapshot(arena, kAdamW);
  opt_b.download_state(snapshot);
  GpuAdamW opt_c(b, ctx, kAdamW);
  opt_c.upload_state(snapshot);
  EXPECT_EQ(opt_c.steps_taken(), 3);
  step_both(opt_a, opt_c, 3);
  EXPECT_EQ(opt_c.steps_taken(), 4);
  EXPECT_TRUE(same_bits(to_host(ctx, a.values(), n), to_host(ctx, b.values(), n)));
  EXPECT_TRUE(same_bits(to_host(ctx, opt_a.second_moment(), n), to_host(ctx, opt_c.second_moment(), n)));
  opt_c.reset();
  EXPECT_EQ(opt_c.steps_taken(), 0);
}

// everything above that sums, once, from fixed inputs; the outputs' bits
std::vector<float> run_everything_once() {
  Context ctx;
  Rng rng(42);
  std::vector<float> out;
  auto keep = [&](const float* d, size_t n) {
    const auto h = to_host(ctx, d, n);
    out.insert(out.end(), h.begin(), h.end());
  };
  // embedding backward with heavy repeats, positions backward
  const int N = 30, D = 70, B = 8, T = 40, n = B * T;
  const auto ids = repeated_ids(n, N, rng);
  const auto dy = random_floats(size_t(n) * D, rng);
  auto d_ids = to_device(ctx, ids);
  auto d_dy = to_device(ctx, dy);
  DeviceBuffer<float> d_dw(size_t(N) * D), d_dp(size_t(T) * D);
  d_dw.zero(ctx.stream());
  d_dp.zero(ctx.stream());
  EmbeddingScratch scratch;
  embedding_backward(ctx, d_ids.data(), d_dy.data(), d_dw.data(), n, N, D, scratch);
  position_embedding_backward(ctx, d_dy.data(), d_dy.data(), d_dp.data(), B, T, D, 0);
  keep(d_dw.data(), d_dw.size());
  keep(d_dp.data(), d_dp.size());
  // the head over several blocks, with bias
  const HeadCase c(9, 300);
  auto d_hidden = to_device(ctx, c.hidden), d_weight = to_device(ctx, c.weight), d_bias = to_device(ctx, c.bias);
  auto d_targets = to_device(ctx, c.targets);
  auto d_dweight = to_device(ctx, c.dweight0), d_dbias = to_device(ctx, c.dbias0);
  GpuLmHeadLoss head(ctx, 128);
  head.forward(d_hidden.data(), c.M, c.D, d_weight.data(), d_bias.data(), c.N, d_targets.data(), nullptr,
               1.f / static_cast<float>(c.M));
  const float* dh = head.backward(d_dweight.data(), d_dbias.data());
  const double loss = head.loss_sum();
  float loss_bits[2];
  std::memcpy(loss_bits, &loss, sizeof loss);
  out.insert(out.end(), loss_bits, loss_bits + 2);
  keep(dh, c.hidden.size());
  keep(d_dweight.data(), d_dweight.size());
  keep(d_dbias.data(), d_dbias.size());
  // clip + AdamW
  ParamArena arena;
  declare_params(arena);
  Rng init(1);
  arena.initialize(init);
  DeviceParams params(arena, ctx);
  GpuAdamW opt(params, ctx, kAdamW);
  GpuGradientClipper clipper(ctx);
  for (int k = 0; k < 3; ++k) {
    const auto g = step_gradients(params.size(), k);
    upload(g.data(), params.grads(), g.size(), ctx.stream());
    clipper.clip(params.grads(), params.size(), kMaxNorm);
    opt.step(1e-2);
    ctx.synchronize();
  }
  keep(params.values(), params.size());
  keep(opt.second_moment(), params.size());
  return out;
}

TEST(GpuHeadAndOptimDeterminism, TwoRunsGiveIdenticalBits) {
  SKIP_WITHOUT_GPU();
  const auto first = run_everything_once();
  const auto second = run_everything_once();
  EXPECT_TRUE(same_bits(first, second));
}

}  // namespace
}  // namespace db::cuda
