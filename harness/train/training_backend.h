// training_backend.h: the device a run trains on, behind the one interface the trainer drives.
//
// The host Model and AdamW are always built: they own the parameter names, the initialisation and
// the checkpoint format. The CPU backend trains them directly (the reference). The GPU backend
// mirrors them on the device from the state they hold when it is built (the trainer builds it after
// loading a checkpoint), trains there, and copies back to them only when asked (to_host, before a
// checkpoint is written), so a checkpoint written by either device resumes on the other.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "harness/train/batching.h"
#include "models/backbones/model.h"
#include "models/optim/adamw.h"

namespace db {

class TrainingBackend {
 public:
  virtual ~TrainingBackend() = default;
  // queue one step: zero the gradients, forward and backward on the batch, clip the gradient norm to
  // grad_clip (0: no clipping), one AdamW step at lr. Its loss is not waited for (take_losses).
  virtual void train_step(const Batch& batch, double lr) = 0;
  // the mean loss over labelled positions of each step queued since the last call, in order, waiting
  // for them. A non-finite loss ends the run; the CPU leaves the weights unchanged from that step on,
  // the GPU may have run the steps queued after it.
  virtual std::vector<double> take_losses() = 0;
  // how many steps the trainer queues before it takes their losses: 1 on the CPU (a step's loss is
  // known when it returns); more on the GPU, so that the host builds the next batches while the GPU
  // trains and waits for it only every so many steps
  virtual int64_t steps_per_loss_read() const = 0;
  // forward only; predictions [B*T] gets the argmax at labelled positions and -1 elsewhere
  virtual LossResult evaluate_batch(const Batch& batch, int32_t* predictions) = 0;
  // parameters and optimizer moments to the host Model and AdamW (before a checkpoint is written)
  virtual void to_host() = 0;
};

// How a run trains (its train.* keys, and the GPU its job slot gives it).
struct BackendOptions {
  std::string device = "cpu";      // train.device: cpu or cuda
  int gpu = 0;                     // cuda: which GPU
  std::string precision = "fp32";  // train.precision; bf16 (cuda only) rounds GEMM operands to bf16
  double grad_clip = 0.0;          // train.grad_clip; 0 = no clipping
  // cuda: capture each step shape's work once as a CUDA graph and replay it (models/cuda/
  // step_graphs.h), the same bits as launching it call by call; off only to compare the two
  bool graphs = true;
};

// throws std::runtime_error when the device or GPU cannot be used here, std::invalid_argument for
// a precision the device does not have
std::unique_ptr<TrainingBackend> make_training_backend(const BackendOptions& options, Model& model, AdamW& optimizer);

#ifdef DELTABENCH_HAVE_CUDA
// harness/train/cuda/gpu_training_backend.cpp
std::unique_ptr<TrainingBackend> make_gpu_training_backend(const BackendOptions& options, Model& model,
                                                           AdamW& optimizer);
#endif

}  // namespace db
