// test_gpu_softmax_attention.cpp: softmax attention's CUDA half against the CPU mixer.
//
// The same parameters and inputs through both: y, dx and every parameter gradient within 1e-5
// relative RMS, for RoPE on and off, full causal and windowed attention, and both ways the per-head
// GEMMs are batched (heads <= batch and heads > batch). Two forward/backward pairs run back to
// back, so the gradients must accumulate and dx must be overwritten (it is filled with NaN before
// each backward). The GPU path must also give the same bits on every run.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "models/core/registry.h"
#include "models/cuda/device_params.h"
#include "models/cuda/gpu_module.h"
#include "models/cuda/runtime.h"
#include "tests/common/relative_rms.h"
#include "tests/cuda/device_copies.h"

namespace db::cuda {
extern const GpuMixerEntry softmax_attention_gpu_mixer_entry;
}

namespace db {
namespace {

using test::same_bits;
using test::to_device;
using test::to_host;

constexpr int kPasses = 2;

struct Case {
  std::string name;
  int B, T, D;
  OptionOverrides overrides;
};

struct Outputs {
  std::vector<float> y, dx, grads;  // grads: the arena's flat gradient buffer
};

std::vector<float> randn(size_t n, Rng& rng) {
  std::vector<float> v(n);
  for (auto& e : v) e = static_cast<float>(rng.normal());
  return v;
}

// the host mixer under scope "attn", its parameters initialised and then scaled up so that the
// attention weights are far from uniform; x and dy drawn after them
struct Twins {
  explicit Twins(const Case& c) : c(c) {
    {
      ParamArena::Scope scope(arena, "attn");
      mixer = create_mixer("softmax_attention", c.D, c.overrides, arena);
    }
    arena.allocate();
    Rng rng(1234);
    arena.initialize(rng);
    for (size_t i = 0; i < arena.size(); ++i) arena.data()[i] *= 15;  // std 0.02 -> 0.3
    const size_t n = static_cast<size_t>(c.B) * c.T * c.D;
    x = randn(n, rng);
    dy = randn(n, rng);
  }

  Outputs run_cpu() {
    Outputs out{std::vector<float>(x.size()), std::vector<float>(x.size()), {}};
    arena.zero_grad();
    for (int pass = 0; pass < kPasses; ++pass) {
      mixer->forward(x.data(), out.y.data(), c.B, c.T);
      mixer->backward(dy.data(), out.dx.data());
    }
    out.grads.assign(arena.grad(), arena.grad() + arena.size());
    arena.zero_grad();
    return out;
  }

  Outputs run_gpu() {
    cuda::Context ctx;
    cuda::DeviceParams params(arena, ctx);
    const MixerEntry* entry = find_mixer("softmax_attention");
    auto twin = cuda::softmax_attention_gpu_mixer_entry.create(ctx, c.D, Options::resolve(entry->options, c.overrides),
                                                               cuda::ParamScope(params, "attn"));
    const size_t n = x.size();
    auto x_d = to_device(ctx, x), dy_d = to_device(ctx, dy);
    cuda::DeviceBuffer<float> y_d(n), dx_d(n);
    for (int pass = 0; pass < kPasses; ++pass) {
      twin->forward(x_d.data(), y_d.data(), c.B, c.T);
      DB_CUDA_CHECK(cudaMemsetAsync(dx_d.data(), 0xff, dx_d.bytes(), ctx.stream()));  // NaN
      twin->backward(dy_d.data(), dx_d.data());
    }
    Outputs out{to_host(ctx, y_d), to_host(ctx, dx_d), {}};
    params.download_grads(arena);
    out.grads.assign(arena.grad(), arena.grad() + arena.size());
    arena.zero_grad();
    return out;
  }

  Case c;
  ParamArena arena;
  std::unique_ptr<Mixer> mixer;
  std::vector<float> x, dy;
};

class GpuSoftmaxAttention : public ::testing::TestWithParam<Case> {};

TEST_P(GpuSoftmaxAttention, MatchesTheCpuMixer) {
  SKIP_WITHOUT_GPU();
  Twins twins(GetParam());
  const Outputs cpu = twins.run_cpu();
  const Outputs gpu = twins.run_gpu();
  EXPECT_LE(test::relative_rms(gpu.y, cpu.y), 1e-5) << "y";
  EXPECT_LE(test::relative_rms(gpu.dx, cpu.dx), 1e-5) << "dx";
  ASSERT_EQ(twins.arena.params().size(), 4u);
  for (const ParamInfo& p : twins.arena.params()) {
    const std::vector<float> g(gpu.grads.begin() + p.offset, gpu.grads.begin() + p.offset + p.size);
    const std::vector<float> r(cpu.grads.begin() + p.offset, cpu.grads.begin() + p.offset + p.size);
    EXPECT_LE(test::relative_rms(g, r), 1e-5) << p.name;
  }
}

const Case kCases[] = {
    {"Full", 2, 37, 32, {{"num_heads", int64_t{2}}}},
    {"Rope", 2, 37, 32, {{"num_heads", int64_t{2}}, {"rope", true}}},
    {"Window5", 2, 37, 32, {{"num_heads", int64_t{2}}, {"window", int64_t{5}}}},
    {"RopeWindow5", 2, 37, 32, {{"num_heads", int64_t{2}}, {"window", int64_t{5}}, {"rope", true}}},
    // more heads than batch rows (the other batching of the per-head GEMMs), rows longer than a block
    {"FourHeadsT300Rope", 2, 300, 32, {{"num_heads", int64_t{4}}, {"rope", true}, {"rope_base", 500.0}}},
    {"FourHeadsT300Window100", 2, 300, 32, {{"num_heads", int64_t{4}}, {"window", int64_t{100}}}},
};

INSTANTIATE_TEST_SUITE_P(Variants, GpuSoftmaxAttention, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(GpuSoftmaxAttentionDeterminism, SameBitsOnEveryRun) {
  SKIP_WITHOUT_GPU();
  for (const Case& c : {kCases[3], kCases[4]}) {
    Twins twins(c);
    const Outputs first = twins.run_gpu();
    const Outputs second = twins.run_gpu();
    EXPECT_TRUE(same_bits(first.y, second.y)) << c.name << ": y";
    EXPECT_TRUE(same_bits(first.dx, second.dx)) << c.name << ": dx";
    EXPECT_TRUE(same_bits(first.grads, second.grads)) << c.name << ": gradients";
  }
}

}  // namespace
}  // namespace db
