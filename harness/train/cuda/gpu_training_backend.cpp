// gpu_training_backend.cpp: train.device: cuda, a run's steps on one GPU (see training_backend.h).
//
// The host builds each batch (tokens, and the flat positions that carry a target with those
// targets), checks the ids as the CPU model would, stages them in pinned memory and copies them up
// asynchronously, with the step's learning rate; the step (forward, backward, clipping, AdamW) is
// queued behind the copies as one CUDA graph per batch shape (models/cuda/step_graphs.h), and its
// loss is copied down behind it. The host does not wait: it returns to build the next batch while
// the GPU trains. Two staging slots take turns, so a batch is written into pinned memory only once
// the upload of the batch before last from that slot has finished; the host waits for the GPU when
// the trainer takes the losses (every kStepsPerLossRead steps, and before evaluating or saving).
#include <fmt/format.h>

#include <stdexcept>
#include <utility>
#include <vector>

#include "common/ignore_index.h"
#include "harness/train/training_backend.h"
#include "models/cuda/device_params.h"
#include "models/cuda/gpu_model.h"
#include "models/cuda/runtime.h"
#include "models/cuda/step_graphs.h"
#include "models/optim/cuda/gpu_adamw.h"

namespace db {

namespace {

using cuda::DeviceBuffer;
using cuda::PinnedBuffer;

class GpuTrainingBackend : public TrainingBackend {
 public:
  GpuTrainingBackend(const BackendOptions& options, Model& model, AdamW& optimizer)
      : model_(model),
        host_optimizer_(optimizer),
        grad_clip_(options.grad_clip),
        use_graphs_(options.graphs),
        ctx_(options.gpu),
        params_(model.params(), ctx_),
        gpu_(ctx_, model, params_),
        optimizer_(params_, ctx_, optimizer.config()),
        clipper_(ctx_),
        graphs_(ctx_) {
    if (options.precision == "bf16")
      ctx_.set_precision(cuda::Precision::bf16);
    else if (options.precision != "fp32")
      throw std::invalid_argument("unknown precision '" + options.precision + "' (fp32 or bf16)");
    optimizer_.upload_state(host_optimizer_);
    host_losses_.resize(kStepsPerLossRead);
  }

  void train_step(const Batch& batch, double lr) override {
    const int M = stage(batch, &lr).M;
    const auto step = [&] {
      params_.zero_grad();
      gpu_.forward_loss(tokens_.data(), batch.B, batch.T, labelled_.data(), targets_.data(), M, true);
      gpu_.backward();
      if (grad_clip_ > 0) clipper_.clip(params_.grads(), params_.size(), grad_clip_);
      optimizer_.step_with_device_lr(lr_.data());
    };
    if (use_graphs_)
      graphs_.run({batch.B, batch.T, M}, step);
    else
      step();
    if (pending_labelled_.size() == kStepsPerLossRead) drain_losses();
    cuda::download(gpu_.loss_sum(), host_losses_.data() + pending_labelled_.size(), 1, ctx_.stream());
    pending_labelled_.push_back(M);
  }

  std::vector<double> take_losses() override {
    drain_losses();
    return std::exchange(losses_, {});
  }

  int64_t steps_per_loss_read() const override { return kStepsPerLossRead; }

  LossResult evaluate_batch(const Batch& batch, int32_t* predictions) override {
    const Staged staged = stage(batch, nullptr);
    const int M = staged.M;
    gpu_.forward_loss(tokens_.data(), batch.B, batch.T, labelled_.data(), targets_.data(), M, false);
    int32_t* argmax = host_argmax_.resize(M);
    cuda::download(gpu_.argmax(), argmax, M, ctx_.stream());
    LossResult r;
    r.loss_sum = read_loss();  // synchronises, so argmax has arrived too
    r.count = M;
    if (predictions) {
      std::fill(predictions, predictions + size_t(batch.B) * batch.T, -1);
      const int32_t* labelled = staged.slot->labelled.data();
      for (int m = 0; m < M; ++m) predictions[labelled[m]] = argmax[m];
    }
    return r;
  }

  void to_host() override {
    params_.download_values(model_.params());
    optimizer_.download_state(host_optimizer_);
  }

 private:
  static constexpr size_t kStepsPerLossRead = 32;

  // pinned staging of one batch (and a training step's lr), reusable once `uploaded` has passed
  struct StagingSlot {
    StagingSlot() { DB_CUDA_CHECK(cudaEventCreateWithFlags(&uploaded, cudaEventDisableTiming)); }
    ~StagingSlot() { cudaEventDestroy(uploaded); }
    StagingSlot(const StagingSlot&) = delete;
    StagingSlot& operator=(const StagingSlot&) = delete;
    PinnedBuffer<int32_t> tokens, labelled, targets;  // [B*T], [M], [M]
    PinnedBuffer<double> lr;                          // [1]
    cudaEvent_t uploaded = nullptr;
    bool queued = false;  // `uploaded` has been recorded
  };
  struct Staged {
    int M;             // labelled positions
    StagingSlot* slot;
  };

  // checks the batch and queues its upload (and lr's, when given) from the next staging slot
  Staged stage(const Batch& batch, const double* lr) {
    const int N = model_.config().vocab_size;
    const size_t n = size_t(batch.B) * batch.T;
    StagingSlot& slot = staging_[next_slot_];
    next_slot_ ^= 1;
    if (slot.queued) DB_CUDA_CHECK(cudaEventSynchronize(slot.uploaded));  // its last batch has gone up
    int32_t* tokens = slot.tokens.resize(n);
    int32_t* labelled = slot.labelled.resize(n);
    int32_t* targets = slot.targets.resize(n);
    int M = 0;
    for (size_t i = 0; i < n; ++i) {
      const int32_t id = batch.tokens[i], target = batch.targets[i];
      if (id < 0 || id >= N) throw std::out_of_range(fmt::format("token id {} outside the vocabulary [0, {})", id, N));
      tokens[i] = id;
      if (target == IGNORE) continue;
      if (target < 0 || target >= N)
        throw std::out_of_range(fmt::format("target id {} outside the vocabulary [0, {})", target, N));
      labelled[M] = static_cast<int32_t>(i), targets[M] = target, ++M;
    }
    if (batch.T > model_.config().max_seq_len && model_.config().position == "learned")
      throw std::out_of_range(fmt::format("sequence length {} beyond the position table ({})", batch.T,
                                          model_.config().max_seq_len));
    // a device buffer that grows frees the old one, and cudaFree waits for the steps still using it
    cuda::upload(tokens, tokens_.resize(n), n, ctx_.stream());
    cuda::upload(labelled, labelled_.resize(M), M, ctx_.stream());
    cuda::upload(targets, targets_.resize(M), M, ctx_.stream());
    if (lr) {
      *slot.lr.resize(1) = *lr;
      cuda::upload(slot.lr.data(), lr_.resize(1), 1, ctx_.stream());
    }
    DB_CUDA_CHECK(cudaEventRecord(slot.uploaded, ctx_.stream()));
    slot.queued = true;
    return {M, &slot};
  }

  // waits for the queued steps and moves their mean losses to losses_
  void drain_losses() {
    if (pending_labelled_.empty()) return;
    ctx_.synchronize();
    for (size_t i = 0; i < pending_labelled_.size(); ++i)
      losses_.push_back(pending_labelled_[i] ? host_losses_.data()[i] / pending_labelled_[i] : 0.0);
    pending_labelled_.clear();
  }

  double read_loss() {
    double* loss = host_loss_.resize(1);
    cuda::download(gpu_.loss_sum(), loss, 1, ctx_.stream());
    ctx_.synchronize();
    return *loss;
  }

  Model& model_;
  AdamW& host_optimizer_;
  double grad_clip_;
  bool use_graphs_;
  cuda::Context ctx_;
  cuda::DeviceParams params_;
  cuda::GpuModel gpu_;
  cuda::GpuAdamW optimizer_;
  cuda::GpuGradientClipper clipper_;
  cuda::StepGraphs graphs_;  // the step (staged batch and lr in, updated weights out) per (B, T, M)
  StagingSlot staging_[2];
  int next_slot_ = 0;
  PinnedBuffer<int32_t> host_argmax_;            // [M] of an evaluation
  PinnedBuffer<double> host_loss_;               // [1] an evaluation's loss sum
  PinnedBuffer<double> host_losses_;             // [kStepsPerLossRead] the queued steps' loss sums
  std::vector<int> pending_labelled_;            // M of each queued step
  std::vector<double> losses_;                   // mean losses of drained steps, not yet taken
  DeviceBuffer<double> lr_;                                                         // [1] the step's lr
  DeviceBuffer<int32_t> tokens_, labelled_, targets_;                               // [B*T], [M], [M]
};

}  // namespace

std::unique_ptr<TrainingBackend> make_gpu_training_backend(const BackendOptions& options, Model& model,
                                                           AdamW& optimizer) {
  return std::make_unique<GpuTrainingBackend>(options, model, optimizer);
}

}  // namespace db
