// training_backend.cpp: the CPU backend and the choice of device (see training_backend.h).
#include "harness/train/training_backend.h"

#include <cmath>
#include <utility>

#include "harness/train/device_support.h"

namespace db {

namespace {

class CpuTrainingBackend : public TrainingBackend {
 public:
  CpuTrainingBackend(Model& model, AdamW& optimizer, double grad_clip)
      : model_(model), optimizer_(optimizer), grad_clip_(grad_clip) {}

  void train_step(const Batch& batch, double lr) override {
    if (diverged_) return;
    model_.params().zero_grad();
    const LossResult r = model_.forward_loss(batch.tokens.data(), batch.targets.data(), batch.B, batch.T, true, nullptr);
    const double loss = r.count ? r.loss_sum / r.count : 0.0;
    losses_.push_back(loss);
    if (!std::isfinite(loss)) {
      diverged_ = true;
      return;
    }
    model_.backward();
    if (grad_clip_ > 0) clip_gradient_norm(model_.params(), grad_clip_);
    optimizer_.step(lr);
  }

  std::vector<double> take_losses() override { return std::exchange(losses_, {}); }
  int64_t steps_per_loss_read() const override { return 1; }

  LossResult evaluate_batch(const Batch& batch, int32_t* predictions) override {
    return model_.forward_loss(batch.tokens.data(), batch.targets.data(), batch.B, batch.T, false, predictions);
  }

  void to_host() override {}

 private:
  Model& model_;
  AdamW& optimizer_;
  double grad_clip_;
  std::vector<double> losses_;  // of the steps since the last take_losses
  bool diverged_ = false;
};

}  // namespace

std::unique_ptr<TrainingBackend> make_training_backend(const BackendOptions& options, Model& model, AdamW& optimizer) {
  if (options.device == "cpu") {
    if (options.precision != "fp32")
      throw std::invalid_argument("precision " + options.precision + " runs on the GPU backend only");
    return std::make_unique<CpuTrainingBackend>(model, optimizer, options.grad_clip);
  }
  require_visible_gpu(options.gpu);
#ifdef DELTABENCH_HAVE_CUDA
  return make_gpu_training_backend(options, model, optimizer);
#else
  return nullptr;  // unreachable: require_visible_gpu throws in a build without CUDA
#endif
}

}  // namespace db
