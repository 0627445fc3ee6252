// in_context_recall.cpp: MAD in-context recall and noisy in-context recall (task-protocols.md B.2.1
// and B.2.2; mad-lab generate_in_context_recall_instance with multi_query = True).
//
// A sequence of seq_len tokens is seq_len/2 - 1 key-value pairs followed by one probe pair. Keys are
// drawn uniformly with replacement from [0, C/2), C = V - noise_vocab_size; a key keeps the value it
// got at its first appearance, a new key gets a uniform value from [C/2, C). The probe key is a
// uniform choice among the distinct keys already shown. With frac_noise > 0 a pair slot becomes two
// uniform noise tokens from [C, V) instead, except one protected slot. Model input = tokens[:-1].
// Train targets = tokens[1:] (full next-token loss). Test targets = after the same shift, the value of
// every pair whose key was seen before (so it sits at the key position) and the probe's value.
#include <fmt/format.h>

#include "tasks/mad/mad_task.h"

namespace db {

namespace {

class InContextRecallTask : public MadTask {
 public:
  InContextRecallTask(std::string name, const Options& o)
      : MadTask(std::move(name), o),
        frac_noise_(o.get_double("frac_noise")),
        noise_vocab_(o.get_int("noise_vocab_size")) {
    // one key and one value at least
    mad_validate_noise(o, 0, 2);
    if (seq_len_ % 2 != 0 || seq_len_ < 4)
      throw ConfigError("seq_len",
                        fmt::format("seq_len must be even and >= 4 (a pair and the probe), got {}", seq_len_));
  }

  int max_input_length() const override { return static_cast<int>(seq_len_ - 1); }

 protected:
  Example make_example(Split split, Rng& rng) const override {
    const int64_t clean = vocab_size_ - noise_vocab_;
    const int64_t num_keys = clean / 2;
    const int64_t num_values = clean - num_keys;
    const int64_t pair_slots = seq_len_ / 2 - 1;  // the probe pair is appended after these

    // tokens/targets before the shift; targets in test form
    std::vector<int32_t> tokens, targets;
    tokens.reserve(seq_len_);
    targets.reserve(seq_len_);
    std::vector<int32_t> value_of(num_keys, -1);
    std::vector<int32_t> shown_keys;  // distinct keys in order of first appearance

    // mad-lab protects a slot drawn from all seq_len/2 slots, the probe's included, so with
    // probability 2/seq_len nothing is protected and an all-noise sequence leaves the probe without a
    // key (numpy then raises). Drawing the protected slot among the real pair slots keeps every
    // sequence valid and changes nothing else.
    const int64_t protected_slot = static_cast<int64_t>(rng.below(static_cast<uint64_t>(pair_slots)));
    for (int64_t slot = 0; slot < pair_slots; ++slot) {
      const bool noise = frac_noise_ > 0.0 && slot != protected_slot && rng.uniform() < frac_noise_;
      if (noise) {
        for (int t = 0; t < 2; ++t) {
          tokens.push_back(static_cast<int32_t>(clean + rng.below(static_cast<uint64_t>(noise_vocab_))));
          targets.push_back(IGNORE);
        }
        continue;
      }
      const int32_t key = static_cast<int32_t>(rng.below(static_cast<uint64_t>(num_keys)));
      const bool seen = value_of[key] >= 0;
      if (!seen) {
        value_of[key] = static_cast<int32_t>(num_keys + rng.below(static_cast<uint64_t>(num_values)));
        shown_keys.push_back(key);
      }
      tokens.push_back(key);
      tokens.push_back(value_of[key]);
      targets.push_back(IGNORE);
      targets.push_back(seen ? value_of[key] : IGNORE);
    }
    const int32_t probe_key = shown_keys[rng.below(shown_keys.size())];
    tokens.push_back(probe_key);
    tokens.push_back(value_of[probe_key]);
    targets.push_back(IGNORE);
    targets.push_back(value_of[probe_key]);

    Example ex;
    ex.input.assign(tokens.begin(), tokens.end() - 1);
    if (split == Split::train)
      ex.target.assign(tokens.begin() + 1, tokens.end());
    else
      ex.target.assign(targets.begin() + 1, targets.end());
    ex.meta["seq_len"] = seq_len_;
    return ex;
  }

 private:
  double frac_noise_;
  int64_t noise_vocab_;
};

OptionSpecs recall_options(int64_t vocab_size, double frac_noise, int64_t noise_vocab_size) {
  OptionSpecs specs = mad_base_options(vocab_size, 128, 12800);
  for (auto& s : mad_noise_options(frac_noise, noise_vocab_size)) specs.push_back(s);
  return specs;
}

}  // namespace

extern const TaskEntry in_context_recall_task_entry{
    "in_context_recall",
    "MAD in-context recall: recall the value of a key repeated earlier in the sequence",
    recall_options(16, 0.0, 0),
    [](const Options& o) -> std::unique_ptr<Task> {
      return std::make_unique<InContextRecallTask>("in_context_recall", o);
    },
};

extern const TaskEntry noisy_in_context_recall_task_entry{
    "noisy_in_context_recall",
    "MAD noisy in-context recall: in-context recall with pairs replaced by noise tokens",
    recall_options(32, 0.2, 16),
    [](const Options& o) -> std::unique_ptr<Task> {
      return std::make_unique<InContextRecallTask>("noisy_in_context_recall", o);
    },
};

}  // namespace db
