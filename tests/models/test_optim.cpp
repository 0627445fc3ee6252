// test_optim.cpp: AdamW, gradient clipping and the learning-rate schedules against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>

#include "models/optim/adamw.h"
#include "models/optim/schedule.h"

namespace db {
namespace {

TEST(AdamW, FirstTwoStepsMatchTheFormulaAndSkipDecayWhereDeclared) {
  ParamArena arena;
  Param w = arena.add("w", {2}, ParamInit::constant(1.0), /*weight_decay=*/true);
  Param n = arena.add("norm", {1}, ParamInit::constant(1.0), /*weight_decay=*/false);
  Rng rng(0);
  arena.initialize(rng);
  const double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.5;
  AdamW opt(arena, {b1, b2, eps, wd});
  const double g[2] = {0.5, -2.0};
  double p = 1.0, m = 0, v = 0;
  for (int step = 1; step <= 2; ++step) {
    w.grad()[0] = static_cast<real>(g[step - 1]);
    n.grad()[0] = static_cast<real>(g[step - 1]);
    opt.step(lr);
    m = b1 * m + (1 - b1) * g[step - 1];
    v = b2 * v + (1 - b2) * g[step - 1] * g[step - 1];
    const double update = lr * (m / (1 - std::pow(b1, step))) / (std::sqrt(v / (1 - std::pow(b2, step))) + eps);
    const double decayed = p * (1 - lr * wd) - update;
    p = decayed;
    EXPECT_NEAR(w.data()[0], p, 1e-6) << "step " << step;
  }
  // the norm weight saw the same gradients without decay: its value differs from the decayed one
  double q = 1.0;
  m = v = 0;
  for (int step = 1; step <= 2; ++step) {
    m = b1 * m + (1 - b1) * g[step - 1];
    v = b2 * v + (1 - b2) * g[step - 1] * g[step - 1];
    q -= lr * (m / (1 - std::pow(b1, step))) / (std::sqrt(v / (1 - std::pow(b2, step))) + eps);
  }
  EXPECT_NEAR(n.data()[0], q, 1e-6);
  EXPECT_EQ(opt.steps_taken(), 2);
}

TEST(GradientClipping, ScalesToTheLimitAndLeavesSmallGradientsAlone) {
  ParamArena arena;
  Param w = arena.add("w", {2}, ParamInit::zeros());
  arena.allocate();
  w.grad()[0] = 3, w.grad()[1] = 4;  // norm 5
  EXPECT_NEAR(clip_gradient_norm(arena, 10.0), 5.0, 1e-6);
  EXPECT_FLOAT_EQ(w.grad()[0], 3);
  EXPECT_NEAR(clip_gradient_norm(arena, 1.0), 5.0, 1e-6);
  EXPECT_NEAR(gradient_norm(arena), 1.0, 1e-5);
  EXPECT_NEAR(w.grad()[0] / w.grad()[1], 0.75, 1e-6);
}

TEST(Schedule, CosineWithWarmupHitsItsKeyPoints) {
  LrSchedule s;
  s.kind = "cosine", s.lr = 1.0, s.min_lr = 0.1, s.warmup_steps = 10, s.total_steps = 110;
  EXPECT_NEAR(s.at(0), 0.1, 1e-12);   // first warm-up step
  EXPECT_NEAR(s.at(9), 1.0, 1e-12);   // end of warm-up
  EXPECT_NEAR(s.at(10), 1.0, 1e-12);  // cosine starts at the peak
  EXPECT_NEAR(s.at(60), 0.55, 1e-12); // halfway down
  EXPECT_NEAR(s.at(110), 0.1, 1e-12); // the floor
}

TEST(Schedule, CosineEpochIsConstantWithinAnEpoch) {
  LrSchedule s;
  s.kind = "cosine_epoch", s.lr = 1.0, s.min_lr = 0.0, s.steps_per_epoch = 5, s.epochs = 4;
  EXPECT_DOUBLE_EQ(s.at(0), 1.0);
  EXPECT_DOUBLE_EQ(s.at(4), 1.0);
  EXPECT_NEAR(s.at(5), 0.5 * (1 + std::cos(M_PI / 4)), 1e-12);
  EXPECT_NEAR(s.at(10), 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(s.at(7), s.at(9));
}

TEST(Schedule, ConstantAndUnknownKinds) {
  LrSchedule s;
  s.kind = "constant", s.lr = 0.3;
  EXPECT_DOUBLE_EQ(s.at(12345), 0.3);
  s.kind = "linear";
  EXPECT_THROW(s.at(0), std::invalid_argument);
}

}  // namespace
}  // namespace db
