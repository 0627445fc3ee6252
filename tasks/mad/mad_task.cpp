// mad_task.cpp: the parts every MAD task shares (see mad_task.h): options, validation, and the
// per-example streams that make any range of a split reproducible on its own.
#include "tasks/mad/mad_task.h"

#include <fmt/format.h>

#include <stdexcept>

namespace db {

MadTask::MadTask(std::string name, const Options& o)
    : name_(std::move(name)),
      vocab_size_(o.get_int("vocab_size")),
      seq_len_(o.get_int("seq_len")),
      num_train_(o.get_int("num_train_examples")),
      num_test_(o.get_int("num_test_examples")) {
  if (vocab_size_ < 2 || vocab_size_ > (int64_t{1} << 30))
    throw ConfigError("vocab_size", fmt::format("vocab_size must be in [2, 2^30], got {}", vocab_size_));
  if (seq_len_ < 2 || seq_len_ > (int64_t{1} << 24))
    throw ConfigError("seq_len", fmt::format("seq_len must be in [2, 2^24], got {}", seq_len_));
  if (num_train_ < 0)
    throw ConfigError("num_train_examples", fmt::format("num_train_examples must be >= 0, got {}", num_train_));
  if (num_test_ < 0)
    throw ConfigError("num_test_examples", fmt::format("num_test_examples must be >= 0, got {}", num_test_));
}

std::vector<Example> MadTask::generate(Split split, uint64_t seed, int64_t first, int64_t count) const {
  if (first < 0 || count < 0 || first + count > split_size(split))
    throw std::out_of_range(fmt::format("{}: examples [{}, {}) outside the {} split of {}", name_, first, first + count,
                                        split_name(split), split_size(split)));
  // the task and split names enter the stream label, so train and test differ even for one seed
  const uint64_t stream = derive_seed(seed, fmt::format("mad/{}/{}", name_, split_name(split)));
  std::vector<Example> out;
  out.reserve(count);
  for (int64_t i = first; i < first + count; ++i) {
    Rng rng(splitmix64(stream ^ splitmix64(static_cast<uint64_t>(i))));
    out.push_back(make_example(split, rng));
  }
  return out;
}

OptionSpecs mad_base_options(int64_t vocab_size, int64_t seq_len, int64_t num_train_examples) {
  return {
      {"vocab_size", vocab_size, "vocabulary size V, special tokens included", {}},
      {"seq_len", seq_len, "sequence length", {}},
      {"num_train_examples", num_train_examples, "training examples (a fixed set replayed every epoch)", {}},
      {"num_test_examples", int64_t{1280}, "test examples", {}},
  };
}

OptionSpecs mad_noise_options(double frac_noise, int64_t noise_vocab_size) {
  return {
      {"frac_noise", frac_noise, "probability that a pair slot is replaced by noise tokens, in [0, 1)", {}},
      {"noise_vocab_size", noise_vocab_size, "noise tokens, taken from the top of the ordinary vocabulary", {}},
  };
}

void mad_validate_noise(const Options& o, int64_t special_tokens, int64_t min_clean_tokens) {
  const double frac = o.get_double("frac_noise");
  const int64_t noise = o.get_int("noise_vocab_size");
  const int64_t vocab = o.get_int("vocab_size");
  if (!(frac >= 0.0 && frac < 1.0))
    throw ConfigError("frac_noise", fmt::format("frac_noise must be in [0, 1), got {}", frac));
  if (noise < 0) throw ConfigError("noise_vocab_size", fmt::format("noise_vocab_size must be >= 0, got {}", noise));
  if (frac > 0.0 && noise == 0)
    throw ConfigError("noise_vocab_size", "noise_vocab_size must be > 0 when frac_noise > 0");
  if (vocab - special_tokens - noise < min_clean_tokens)
    throw ConfigError("noise_vocab_size",
                      fmt::format("noise_vocab_size {} does not fit: vocab_size {} minus {} special token(s) minus "
                                  "the noise must leave at least {} key/value tokens",
                                  noise, vocab, special_tokens, min_clean_tokens));
}

}  // namespace db
