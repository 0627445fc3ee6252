// fuzzy_in_context_recall.cpp: MAD fuzzy in-context recall (task-protocols.md B.2.3; mad-lab
// generate_fuzzy_in_context_recall_instance with multi_query = True).
//
// Pad token P = V-1; with C = V - 1 - noise_vocab_size, key tokens are [0, C/2), value tokens
// [C/2, C) and noise tokens [C, V-1). A key (value) is an ordered tuple of 1..k_motif_size
// (1..v_motif_size) distinct tokens, its length uniform per pair; test keys always have
// k_motif_size tokens. One probe pair is planted once the sequence reaches a random index below
// seq_len - 2|probe|; pairs are added while the length is below seq_len - |probe| - (k_motif_size +
// v_motif_size); the probe is repeated at the end, the sequence is left-padded with P to seq_len + 1
// and shifted. Train targets = the shifted tokens; test targets = every value of a key seen before
// (all of its tokens) and the final probe value.
//
// As in mad-lab, the planting index can lie beyond the last position the loop reaches, so a few
// percent of sequences end with a probe whose pair never appeared (meta "probe_in_context" = 0).
// That is kept: it is part of the published task's difficulty.
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <unordered_map>

#include "tasks/mad/mad_task.h"

namespace db {

namespace {

class FuzzyInContextRecallTask : public MadTask {
 public:
  explicit FuzzyInContextRecallTask(const Options& o)
      : MadTask("fuzzy_in_context_recall", o),
        k_motif_(o.get_int("k_motif_size")),
        v_motif_(o.get_int("v_motif_size")),
        frac_noise_(o.get_double("frac_noise")),
        noise_vocab_(o.get_int("noise_vocab_size")) {
    mad_validate_noise(o, 1, 2);
    if (k_motif_ < 1) throw ConfigError("k_motif_size", fmt::format("k_motif_size must be >= 1, got {}", k_motif_));
    if (v_motif_ < 1) throw ConfigError("v_motif_size", fmt::format("v_motif_size must be >= 1, got {}", v_motif_));
    const int64_t clean = vocab_size_ - 1 - noise_vocab_;
    if (clean / 2 < k_motif_)
      throw ConfigError("k_motif_size",
                        fmt::format("k_motif_size {} needs that many distinct key tokens; vocab_size {} "
                                    "leaves {}",
                                    k_motif_, vocab_size_, clean / 2));
    if (clean - clean / 2 < v_motif_)
      throw ConfigError("v_motif_size", fmt::format("v_motif_size {} needs that many distinct value tokens; vocab_size "
                                                    "{} leaves {}",
                                                    v_motif_, vocab_size_, clean - clean / 2));
    if (seq_len_ <= 2 * (k_motif_ + v_motif_))
      throw ConfigError("seq_len", fmt::format("seq_len must be > 2*(k_motif_size + v_motif_size) = {}, got {}",
                                               2 * (k_motif_ + v_motif_), seq_len_));
  }

  int max_input_length() const override { return static_cast<int>(seq_len_); }
  int32_t pad_token() const override { return static_cast<int32_t>(vocab_size_ - 1); }

 protected:
  Example make_example(Split split, Rng& rng) const override {
    using Motif = std::vector<int32_t>;
    const int64_t clean = vocab_size_ - 1 - noise_vocab_;
    const int64_t num_key_tokens = clean / 2;
    const int64_t num_value_tokens = clean - num_key_tokens;
    const bool train = split == Split::train;

    // an ordered tuple of distinct tokens, uniform over all such tuples (mad-lab picks uniformly from
    // the list of all permutations of that size); sequential draws with rejection of repeats
    auto random_motif = [&](int64_t offset, int64_t pool, int64_t size, Motif& m) {
      m.clear();
      while (static_cast<int64_t>(m.size()) < size) {
        const int32_t t = static_cast<int32_t>(offset + rng.below(static_cast<uint64_t>(pool)));
        if (std::find(m.begin(), m.end(), t) == m.end()) m.push_back(t);
      }
    };
    auto key_size = [&]() { return train ? 1 + static_cast<int64_t>(rng.below(k_motif_)) : k_motif_; };
    auto value_size = [&]() { return 1 + static_cast<int64_t>(rng.below(v_motif_)); };

    const int64_t probe_key_size = key_size();
    const int64_t probe_value_size = value_size();
    Motif probe_key, probe_value;
    random_motif(0, num_key_tokens, probe_key_size, probe_key);
    random_motif(num_key_tokens, num_value_tokens, probe_value_size, probe_value);
    const int64_t probe_len = probe_key_size + probe_value_size;
    const int64_t plant_at = static_cast<int64_t>(rng.below(static_cast<uint64_t>(seq_len_ - 2 * probe_len)));
    const int64_t stop_at = seq_len_ - probe_len - (k_motif_ + v_motif_);

    // the row never exceeds seq_len + 1 tokens, so references into it stay valid while appending
    std::vector<int32_t> tokens, targets;
    tokens.reserve(seq_len_ + 1);
    targets.reserve(seq_len_ + 1);
    // keys shown so far -> (start, length) of their value in `tokens`; a key's bytes are its map key
    // (short motifs fit the small-string buffer, and keys of different lengths never compare equal)
    std::unordered_map<std::string, std::pair<int64_t, int64_t>> value_at;
    auto key_bytes = [](const Motif& m) {
      return std::string(reinterpret_cast<const char*>(m.data()), m.size() * sizeof(int32_t));
    };
    auto append_value = [&](int64_t start, int64_t len) {
      for (int64_t t = 0; t < len; ++t) tokens.push_back(tokens[start + t]);
    };
    const std::string probe_bytes = key_bytes(probe_key);
    bool probe_added = false;
    Motif key, fresh_value;

    while (static_cast<int64_t>(tokens.size()) < stop_at) {
      if (!probe_added && static_cast<int64_t>(tokens.size()) >= plant_at) {
        tokens.insert(tokens.end(), probe_key.begin(), probe_key.end());
        value_at[probe_bytes] = {static_cast<int64_t>(tokens.size()), probe_value_size};
        tokens.insert(tokens.end(), probe_value.begin(), probe_value.end());
        targets.insert(targets.end(), probe_len, IGNORE);
        probe_added = true;
        continue;
      }
      const int64_t ks = key_size();
      const int64_t vs = value_size();
      if (frac_noise_ > 0.0 && rng.uniform() < frac_noise_) {
        for (int64_t t = 0; t < ks + vs; ++t)
          tokens.push_back(static_cast<int32_t>(clean + rng.below(static_cast<uint64_t>(noise_vocab_))));
        targets.insert(targets.end(), ks + vs, IGNORE);
        continue;
      }
      random_motif(0, num_key_tokens, ks, key);
      const std::string bytes = key_bytes(key);
      auto it = value_at.find(bytes);
      const bool seen = it != value_at.end();
      tokens.insert(tokens.end(), key.begin(), key.end());
      const int64_t value_start = static_cast<int64_t>(tokens.size());
      if (bytes == probe_bytes) {
        // a natural draw of the probe key counts as planting it
        tokens.insert(tokens.end(), probe_value.begin(), probe_value.end());
        probe_added = true;
      } else if (seen) {
        append_value(it->second.first, it->second.second);
      } else {
        random_motif(num_key_tokens, num_value_tokens, vs, fresh_value);
        tokens.insert(tokens.end(), fresh_value.begin(), fresh_value.end());
      }
      const int64_t value_len = static_cast<int64_t>(tokens.size()) - value_start;
      targets.insert(targets.end(), ks, IGNORE);
      if (seen)
        targets.insert(targets.end(), tokens.begin() + value_start, tokens.end());
      else
        targets.insert(targets.end(), value_len, IGNORE);
      value_at[bytes] = {value_start, value_len};
    }
    tokens.insert(tokens.end(), probe_key.begin(), probe_key.end());
    tokens.insert(tokens.end(), probe_value.begin(), probe_value.end());
    targets.insert(targets.end(), probe_key_size, IGNORE);
    targets.insert(targets.end(), probe_value.begin(), probe_value.end());

    // left-pad to seq_len + 1 so that the shift leaves seq_len positions
    const int64_t pad = seq_len_ + 1 - static_cast<int64_t>(tokens.size());
    Example ex;
    ex.input.reserve(seq_len_);
    ex.input.assign(pad, pad_token());
    ex.input.insert(ex.input.end(), tokens.begin(), tokens.end() - 1);
    if (train) {
      ex.target.assign(pad - 1, pad_token());
      ex.target.insert(ex.target.end(), tokens.begin(), tokens.end());
    } else {
      ex.target.assign(pad - 1, IGNORE);
      ex.target.insert(ex.target.end(), targets.begin(), targets.end());
    }
    ex.meta["seq_len"] = seq_len_;
    ex.meta["probe_in_context"] = probe_added ? 1 : 0;
    return ex;
  }

 private:
  int64_t k_motif_;
  int64_t v_motif_;
  double frac_noise_;
  int64_t noise_vocab_;
};

}  // namespace

extern const TaskEntry fuzzy_in_context_recall_task_entry = [] {
  OptionSpecs specs = mad_base_options(16, 128, 12800);
  specs.push_back({"k_motif_size", int64_t{3}, "longest key (1..k tokens in training, always k at test)", {}});
  specs.push_back({"v_motif_size", int64_t{3}, "longest value (1..v tokens)", {}});
  for (auto& s : mad_noise_options(0.0, 0)) specs.push_back(s);
  return TaskEntry{
      "fuzzy_in_context_recall",
      "MAD fuzzy in-context recall: keys and values are runs of 1..3 tokens",
      specs,
      [](const Options& o) -> std::unique_ptr<Task> { return std::make_unique<FuzzyInContextRecallTask>(o); },
  };
}();

}  // namespace db
