// parity.cpp: the parity task of Grazzi et al. (ICLR 2025), task-protocols.md section C.1, after
// xlstm/experiments/data/formal_language/tasks/parity.py.
//
// Vocabulary 3: 0 = PAD, 1 and 2 = the two bit values. A length n ~ U{min..max} counts the answer:
// n-1 uniform bits, then the answer ((number of 2s) mod 2) + 1. There is no '=' token, so the
// answer is read at the last bit. Chance rate 1/2.
#include <fmt/format.h>

#include <algorithm>

#include "tasks/state_tracking/formal_language.h"
#include "tasks/state_tracking/state_tracking.h"

namespace db {
namespace {

using state_tracking::FormalLanguageConfig;
using state_tracking::FormalSequence;
using state_tracking::LengthRange;

constexpr int32_t kPad = 0;
constexpr int32_t kBitLow = 1;   // counts as 0
constexpr int32_t kBitHigh = 2;  // the bit whose occurrences are counted
// one bit and the answer
constexpr int64_t kShortestParity = 2;

class ParityTask final : public state_tracking::FormalLanguageTask {
 public:
  explicit ParityTask(const FormalLanguageConfig& config) : FormalLanguageTask("parity", config) {}

  int vocab_size() const override { return 3; }
  int32_t pad_token() const override { return kPad; }
  double chance_rate() const override { return 0.5; }
  // input = the n-1 bits
  int max_input_length() const override {
    return static_cast<int>(std::max(config().train.max, config().test.max) - 1);
  }

  std::string describe(const Example& ex) const override {
    std::string bits;
    int64_t highs = 0;
    for (int32_t t : ex.input) {
      bits += t == kBitHigh ? '2' : t == kBitLow ? '1' : '?';
      highs += t == kBitHigh;
    }
    return fmt::format("{} -> {}  (n = {}, {} tokens '2', {})", bits, answer_of(ex),
                       ex.meta.count("length") ? ex.meta.at("length") : 0, highs, highs % 2 ? "odd" : "even");
  }

 protected:
  FormalSequence draw(Rng& rng, const LengthRange& range) const override {
    FormalSequence seq;
    seq.length = rng.between(range.min, range.max);
    seq.tokens.resize(static_cast<size_t>(seq.length));
    int64_t highs = 0;
    for (int64_t i = 0; i + 1 < seq.length; ++i) {
      const int32_t bit = kBitLow + static_cast<int32_t>(rng.below(2));
      seq.tokens[static_cast<size_t>(i)] = bit;
      highs += bit == kBitHigh;
    }
    seq.tokens.back() = static_cast<int32_t>(highs % 2) + kBitLow;
    return seq;
  }
};

}  // namespace

extern const TaskEntry parity_task_entry{
    "parity",
    "Grazzi et al. parity: is the number of 2s in a 1/2 string odd? (train n 3-40, test n 40-256)",
    state_tracking::formal_language_options(false),
    [](const Options& options) -> std::unique_ptr<Task> {
      return std::make_unique<ParityTask>(
          state_tracking::read_formal_language_config(options, kShortestParity, kShortestParity));
    }};

}  // namespace db
