// inference.h: `deltabench eval` and `deltabench forward`: use a trained run without retraining.
//
// eval: load a finished run folder (config.yaml + its checkpoint), evaluate on the task's split,
// optionally with task keys changed (--set task.seq_len=512 for length generalisation), and print
// the metrics. forward: run the model on given token ids and print per-position predictions.
// The CLI (apps/deltabench.cpp) parses the flags into these structs; the implementation lives with
// the trainer. Both return the process exit code: 0 ok, 1 failure, 2 bad input.
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace db {

struct EvalArgs {
  std::filesystem::path run_dir;  // runs/<slug>-<hash>/ of a finished run
  std::vector<std::string> sets;  // "task.key=value" overrides of the evaluated task
  std::string split = "test";     // train | test
  int64_t num_examples = 0;       // 0 = the whole split
  uint64_t seed = 0;              // 0 = the run's seed
  bool json = false;              // print metrics as one JSON object instead of aligned text
};

struct ForwardArgs {
  std::filesystem::path run_dir;  // run folder holding the checkpoint
  std::string tokens;             // space-separated input token ids; "-" = one sequence per stdin line
  int64_t top_k = 1;              // predictions printed per position
  bool json = false;              // JSON lines instead of text
};

int eval_command(const EvalArgs& args, std::ostream& out, std::ostream& err);
int forward_command(const ForwardArgs& args, std::ostream& out, std::ostream& err);

}  // namespace db
