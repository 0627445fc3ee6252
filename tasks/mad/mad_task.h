// mad_task.h: the six MAD synthetic tasks (Poli et al. 2024; task-protocols.md section B.2, after
// athms/mad-lab mad/data/instances.py and configs/tasks/*.yml) and the base class they share.
//
// Every MAD task has a vocabulary size, a sequence length and fixed train/test set sizes (MADConfig:
// 12,800 train, 1,280 test), is scored with per-class macro accuracy, and builds each example from one
// random stream. The base class owns those parts; a task supplies make_example(split, rng), where the
// split matters because the recall tasks train on the full shifted sequence but test only recalled
// values. Special tokens always sit at the top of the vocabulary, as in mad-lab, so V counts them.
#pragma once

#include "common/rng.h"
#include "tasks/task.h"

namespace db {

class MadTask : public Task {
 public:
  // reads vocab_size, seq_len, num_train_examples, num_test_examples (validated here)
  MadTask(std::string name, const Options& options);

  std::string name() const override { return name_; }
  int vocab_size() const override { return static_cast<int>(vocab_size_); }
  MetricKind metric() const override { return MetricKind::macro_accuracy; }
  int64_t split_size(Split split) const override { return split == Split::train ? num_train_ : num_test_; }
  std::vector<Example> generate(Split split, uint64_t seed, int64_t first, int64_t count) const override;

 protected:
  // one example from its own stream; must set meta "seq_len"
  virtual Example make_example(Split split, Rng& rng) const = 0;

  std::string name_;
  int64_t vocab_size_;
  int64_t seq_len_;
  int64_t num_train_;
  int64_t num_test_;
};

// the option specs every MAD task declares, with that task's mad-lab baseline values
OptionSpecs mad_base_options(int64_t vocab_size, int64_t seq_len, int64_t num_train_examples);
// frac_noise / noise_vocab_size (MADConfig defaults 0 and 0; the noisy task's baseline 0.2 and 16)
OptionSpecs mad_noise_options(double frac_noise, int64_t noise_vocab_size);
// checks frac_noise in [0, 1), noise_vocab_size >= 0 and > 0 when frac_noise > 0, and that the noise
// block leaves `min_clean_tokens` ordinary tokens below it (clean vocabulary = vocab - specials - noise)
void mad_validate_noise(const Options& options, int64_t special_tokens, int64_t min_clean_tokens);


}  // namespace db
