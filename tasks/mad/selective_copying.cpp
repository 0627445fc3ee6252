// selective_copying.cpp: MAD selective copying (task-protocols.md B.2.4; mad-lab
// generate_copying_instance with selective = True).
//
// Copy token V-1, blank token V-2, data tokens [0, V-2). n = num_tokens_to_copy data tokens are drawn
// i.i.d.; seq_len - 2n - 1 blanks are scattered among them, each blank placed before a uniformly
// chosen data token (numpy insert at indices from [0, n)), so no blank follows the last data token.
// Then come the copy token and n blanks, at which the targets hold the data tokens in order; every
// other target is IGNORE. No shift, and train and test targets have the same form.
#include <fmt/format.h>

#include "tasks/mad/mad_task.h"

namespace db {

namespace {

class SelectiveCopyingTask : public MadTask {
 public:
  explicit SelectiveCopyingTask(const Options& o)
      : MadTask("selective_copying", o), num_to_copy_(o.get_int("num_tokens_to_copy")) {
    if (vocab_size_ < 3)
      throw ConfigError("vocab_size",
                        fmt::format("vocab_size must be >= 3 (copy, blank and a data token), got {}", vocab_size_));
    if (num_to_copy_ < 1)
      throw ConfigError("num_tokens_to_copy", fmt::format("num_tokens_to_copy must be >= 1, got {}", num_to_copy_));
    if (seq_len_ <= 2 * num_to_copy_ + 1)
      throw ConfigError("seq_len", fmt::format("seq_len must be > 2*num_tokens_to_copy + 1 = {}, got {}",
                                               2 * num_to_copy_ + 1, seq_len_));
  }

  int max_input_length() const override { return static_cast<int>(seq_len_); }

 protected:
  Example make_example(Split, Rng& rng) const override {
    const int32_t copy_token = static_cast<int32_t>(vocab_size_ - 1);
    const int32_t blank_token = static_cast<int32_t>(vocab_size_ - 2);
    const int64_t n = num_to_copy_;
    const int64_t num_blanks = seq_len_ - 2 * n - 1;

    std::vector<int32_t> data(n);
    for (auto& t : data) t = static_cast<int32_t>(rng.below(static_cast<uint64_t>(vocab_size_ - 2)));
    // blanks_before[i] = blanks inserted in front of data token i
    std::vector<int64_t> blanks_before(n, 0);
    for (int64_t b = 0; b < num_blanks; ++b) ++blanks_before[rng.below(static_cast<uint64_t>(n))];

    Example ex;
    ex.input.reserve(seq_len_);
    for (int64_t i = 0; i < n; ++i) {
      ex.input.insert(ex.input.end(), blanks_before[i], blank_token);
      ex.input.push_back(data[i]);
    }
    ex.input.push_back(copy_token);
    ex.input.insert(ex.input.end(), n, blank_token);
    ex.target.assign(seq_len_ - n, IGNORE);
    ex.target.insert(ex.target.end(), data.begin(), data.end());
    ex.meta["seq_len"] = seq_len_;
    return ex;
  }

 private:
  int64_t num_to_copy_;
};

}  // namespace

extern const TaskEntry selective_copying_task_entry = [] {
  OptionSpecs specs = mad_base_options(16, 256, 12800);
  specs.push_back({"num_tokens_to_copy", int64_t{16}, "data tokens to copy after the copy token", {}});
  return TaskEntry{
      "selective_copying",
      "MAD selective copying: copy the data tokens scattered among blanks, in order",
      specs,
      [](const Options& o) -> std::unique_ptr<Task> { return std::make_unique<SelectiveCopyingTask>(o); },
  };
}();

}  // namespace db
