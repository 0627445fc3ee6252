// compression.cpp: MAD compression (task-protocols.md B.2.5; mad-lab generate_compression_instance).
//
// seq_len - 1 tokens drawn i.i.d. from [0, V-1) followed by the compression token V-1; the target is
// the input itself at every position (no shift). The task is meant for an encoder that keeps only the
// last position's vector and decodes the whole sequence from it (mad-lab's AutoEncoder backbone).
// mad-lab's optional noise is not offered: its generator returns the noisy input as the target, and
// the benchmark never enables it.
#include <fmt/format.h>

#include "tasks/mad/mad_task.h"

namespace db {

namespace {

class CompressionTask : public MadTask {
 public:
  explicit CompressionTask(const Options& o) : MadTask("compression", o) {
    if (vocab_size_ < 2)
      throw ConfigError("vocab_size",
                        fmt::format("vocab_size must be >= 2 (a data and the compression token), got {}", vocab_size_));
  }

  int max_input_length() const override { return static_cast<int>(seq_len_); }

 protected:
  Example make_example(Split, Rng& rng) const override {
    Example ex;
    ex.input.reserve(seq_len_);
    for (int64_t i = 0; i + 1 < seq_len_; ++i)
      ex.input.push_back(static_cast<int32_t>(rng.below(static_cast<uint64_t>(vocab_size_ - 1))));
    ex.input.push_back(static_cast<int32_t>(vocab_size_ - 1));
    ex.target = ex.input;
    ex.meta["seq_len"] = seq_len_;
    return ex;
  }
};

}  // namespace

extern const TaskEntry compression_task_entry{
    "compression",
    "MAD compression: reproduce the whole sequence from its last position",
    mad_base_options(16, 32, 12800),
    [](const Options& o) -> std::unique_ptr<Task> { return std::make_unique<CompressionTask>(o); },
    "autoencoder",
};

}  // namespace db
