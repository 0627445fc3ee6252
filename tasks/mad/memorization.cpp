// memorization.cpp: MAD memorization (task-protocols.md B.2.6; mad-lab generate_memorization_instance
// and generate_kv_map).
//
// Insert token V-1. A fixed key->value map, built once from map_seed and shared by every example of
// both splits, pairs a shuffle of the keys [0, (V-1)/2) with a shuffle of the values [(V-1)/2, V-1)
// (zip: the surplus value of an odd split stays unused). A sequence is seq_len/2 slots "key INSERT"
// with keys drawn uniformly from the map; the target at INSERT is the key's value, IGNORE at keys, no
// shift. The test set therefore measures facts stored in the weights, not recall from context.
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "tasks/mad/mad_task.h"

namespace db {

namespace {

class MemorizationTask : public MadTask {
 public:
  explicit MemorizationTask(const Options& o) : MadTask("memorization", o) {
    if (vocab_size_ < 3)
      throw ConfigError("vocab_size", fmt::format("vocab_size must be >= 3 (a key, a value and the insert token), "
                                                  "got {}",
                                                  vocab_size_));
    if (seq_len_ % 2 != 0)
      throw ConfigError("seq_len", fmt::format("seq_len must be even (key, insert slots), got {}", seq_len_));
    const int64_t map_seed = o.get_int("map_seed");
    if (map_seed < 0) throw ConfigError("map_seed", fmt::format("map_seed must be >= 0, got {}", map_seed));

    const int64_t clean = vocab_size_ - 1;
    const int64_t num_keys = clean / 2;
    std::vector<int32_t> keys(num_keys), values(clean - num_keys);
    std::iota(keys.begin(), keys.end(), 0);
    std::iota(values.begin(), values.end(), static_cast<int32_t>(num_keys));
    Rng map_rng(static_cast<uint64_t>(map_seed));
    map_rng.shuffle(keys);
    map_rng.shuffle(values);
    const size_t pairs = std::min(keys.size(), values.size());
    keys_.assign(keys.begin(), keys.begin() + pairs);
    value_of_.assign(num_keys, IGNORE);
    for (size_t i = 0; i < pairs; ++i) value_of_[keys[i]] = values[i];
  }

  int max_input_length() const override { return static_cast<int>(seq_len_); }

 protected:
  Example make_example(Split, Rng& rng) const override {
    const int32_t insert_token = static_cast<int32_t>(vocab_size_ - 1);
    Example ex;
    ex.input.reserve(seq_len_);
    ex.target.reserve(seq_len_);
    for (int64_t slot = 0; slot < seq_len_ / 2; ++slot) {
      const int32_t key = keys_[rng.below(keys_.size())];
      ex.input.push_back(key);
      ex.input.push_back(insert_token);
      ex.target.push_back(IGNORE);
      ex.target.push_back(value_of_[key]);
    }
    ex.meta["seq_len"] = seq_len_;
    return ex;
  }

 private:
  std::vector<int32_t> keys_;      // the map's keys, in shuffled order
  std::vector<int32_t> value_of_;  // [num key tokens] value of each key
};

}  // namespace

extern const TaskEntry memorization_task_entry = [] {
  OptionSpecs specs = mad_base_options(256, 32, 256);
  specs.push_back({"map_seed", int64_t{12345}, "seed of the fixed key->value map shared by train and test", {}});
  return TaskEntry{
      "memorization",
      "MAD memorization: recall values of a fixed key->value map stored in the weights",
      specs,
      [](const Options& o) -> std::unique_ptr<Task> { return std::make_unique<MemorizationTask>(o); },
  };
}();

}  // namespace db
