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

#include "harness/train/batching.h"
#include "models/backbones/model.h"
#include "models/optim/adamw.h"

namespace db {

class TrainingBackend {
 public:
  virtual ~TrainingBackend() = default;
  // zero the gradients, forward and backward on the batch, clip the gradient norm to grad_clip
  // (0: no clipping), one AdamW step at lr. Returns the batch's mean loss over labelled positions.
  // When that loss is not finite the run is over; the CPU then leaves the weights unchanged.
  virtual double train_step(const Batch& batch, double lr) = 0;
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
