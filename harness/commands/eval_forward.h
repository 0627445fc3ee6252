// eval_forward.h: `deltabench eval` and `deltabench forward`: use a trained model without retraining.
//
// Both start from a model checkpoint alone (model.safetensors): its __metadata__ holds the task
// and model recipe (harness/train/checkpoint.h), so the model is rebuilt exactly as the trainer built it
// (same vocabulary, same position-table size) and its parameters loaded by name. No experiment
// file or config.yaml is needed, so a checkpoint copied elsewhere stays usable.
//
//   eval:    score the model on a task split, optionally with task keys changed (length
//            generalisation: --set task.test_min_length=256) or on another task whose vocabulary
//            fits the model; prints the metrics as aligned text or one JSON object.
//   forward: logits [B,T,N] for the token ids [B,T] of a safetensors file, written with the
//            checkpoint's metadata, so the model can be compared with another implementation
//            (e.g. flash-linear-attention loading the same checkpoint). --device cuda computes
//            them with the model's GPU twin, so the GPU path can be checked against the CPU on a
//            trained model.
//
// The CLI (apps/deltabench.cpp) parses the flags into these structs. Exit codes as everywhere:
// 0 ok, 1 a failure while working (e.g. the output could not be written), 2 bad input (missing,
// truncated or foreign checkpoint, bad --set, a task that does not fit the model, bad tokens);
// every bad-input message names the offending file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/train/checkpoint.h"
#include "models/backbones/model.h"
#include "tasks/task.h"

namespace db {

struct EvalArgs {
  std::filesystem::path checkpoint;  // model.safetensors, or a run folder holding one
  std::string task;                  // "" = the checkpoint's task; else another task (its vocabulary must fit)
  std::vector<std::string> sets;     // "task.key=value" (prefix optional) on top of the task's options
  std::string split = "test";        // train | test
  int64_t num_examples = 0;          // 0 = the whole split; else the first n examples of it
  std::optional<uint64_t> seed;      // base seed of the data; unset = the checkpoint's seed
  int64_t batch_size = 64;           // evaluation batch (results do not depend on it)
  int threads = 0;                   // OpenMP threads; 0 = the default (all cores / OMP_NUM_THREADS)
  bool json = false;                 // one JSON object instead of aligned text
};

struct ForwardArgs {
  std::filesystem::path checkpoint;  // model.safetensors, or a run folder holding one
  std::filesystem::path tokens;      // safetensors file with "tokens": I64 or I32 [B,T]
  std::filesystem::path out;         // written: "logits" F32 [B,T,N] + the checkpoint's metadata
  int threads = 0;                   // OpenMP threads; 0 = the default
  std::string device = "cpu";        // cpu, or cuda (the GPU twin in fp32, on the first visible GPU)
};

// Bad user input (exit code 2); what() names the file at fault.
struct InferenceInputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A model rebuilt from a checkpoint, with the task it was trained on.
struct LoadedCheckpoint {
  std::filesystem::path path;                  // the model.safetensors actually read
  ModelRecipe recipe;                          // task, model options, mixers, seed, step
  std::map<std::string, std::string> metadata; // the file's __metadata__, verbatim
  std::unique_ptr<Task> task;                  // the training task (defines vocabulary and max length)
  std::unique_ptr<Model> model;                // parameters loaded
};

// `path` may be a run folder (its model.safetensors is used). Throws InferenceInputError naming
// the file for a missing, truncated or foreign file, unreadable metadata, or a missing/mismatched tensor.
LoadedCheckpoint load_checkpoint(const std::filesystem::path& path);

int eval_command(const EvalArgs& args, std::ostream& out, std::ostream& err);
int forward_command(const ForwardArgs& args, std::ostream& out, std::ostream& err);

}  // namespace db
