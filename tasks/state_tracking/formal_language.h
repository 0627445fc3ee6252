// formal_language.h: the frame shared by the three Grazzi et al. (ICLR 2025) "Chomsky" state-tracking
// tasks: parity, modular arithmetic without brackets, modular arithmetic with brackets.
//
// Source protocol: docs/task-protocols.md section C.1, after
// xlstm/experiments/data/formal_language/tasks/{parity,modular_arithmetic,
// modular_arithmetic_with_brackets}.py and formal_language_dataset.py.
//
// The source writes each example as one row of 256 tokens whose answer token sits at position a,
// zeroes the answer in the input, then shifts by one (input = row[:-1], target = row[1:]) and
// scores only the answer. So the model reads the answer at position a-1 (the last bit, or '=').
// Here every example is returned at its own length: input = row[0 .. a-1] (a tokens) and target =
// IGNORE everywhere except target[a-1] = row[a]. The zeroed answer slot and the trailing PAD of
// the source row are dropped because a causal model never sees them before it predicts the
// answer; the trainer pads a batch with pad_token() and IGNORE targets instead.
//
// Metadata "length" is the example length n exactly as the source counts it (for parity and
// arithmetic without brackets n includes the answer; with brackets n also counts the PAD after
// the answer), so results can be grouped by the paper's length axis.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/rng.h"
#include "tasks/task.h"

namespace db::state_tracking {

// inclusive range of the source's length parameter n
struct LengthRange {
  int64_t min = 0;
  int64_t max = 0;
};

// One source row cut right after its answer: tokens[0 .. size-2] is the question, tokens.back()
// the answer. `length` is n as the source counts it.
struct FormalSequence {
  std::vector<int32_t> tokens;
  int64_t length = 0;
};

// Largest length any configuration may ask for. It keeps max_input_length() an int and bounds the
// recursion depth of the bracket grammar.
constexpr int64_t kMaxFormalLength = 65536;
// Largest modulus: every residue is one token, and a bound keeps the embedding table small.
constexpr int64_t kMaxModulus = 256;

// The keys every Chomsky task has (min_length, max_length, test_min_length, test_max_length,
// train_examples, test_examples), plus modulus when `with_modulus`.
OptionSpecs formal_language_options(bool with_modulus);

struct FormalLanguageConfig {
  LengthRange train;
  LengthRange test;
  int64_t train_examples = 0;
  int64_t test_examples = 0;
};

// Reads and validates the shared keys. `smallest_min_length` is the smallest n the grammar can
// write (ConfigError on min_length / test_min_length below it); `smallest_max_length` the smallest
// n the source can produce at all (the bracket grammar raises every n below 5 to 5).
FormalLanguageConfig read_formal_language_config(const Options& options, int64_t smallest_min_length,
                                                 int64_t smallest_max_length);
// modulus in [2, kMaxModulus], else ConfigError("modulus")
int64_t read_modulus(const Options& options);

class FormalLanguageTask : public Task {
 public:
  FormalLanguageTask(std::string name, FormalLanguageConfig config);

  std::string name() const override { return name_; }
  MetricKind metric() const override { return MetricKind::scaled_accuracy; }
  int64_t split_size(Split split) const override;
  // the paper draws fresh samples at every step
  bool fresh_train_data() const override { return true; }
  std::vector<Example> generate(Split split, uint64_t seed, int64_t first, int64_t count) const override;

  const FormalLanguageConfig& config() const { return config_; }

 protected:
  // one source row for a length drawn from `range`, using only `rng`
  virtual FormalSequence draw(Rng& rng, const LengthRange& range) const = 0;
  // the answer token of an example (its one labelled target), or -1 when it has none
  static int32_t answer_of(const Example& ex);
  // "2 - 3 - 3 * 2 = 3  (n = 9, mod 5)": an arithmetic example with its answer, tokens rendered by `token_text`
  static std::string describe_expression(const Example& ex, int64_t modulus,
                                         const std::function<std::string(int32_t)>& token_text);

 private:
  std::string name_;
  FormalLanguageConfig config_;
};

}  // namespace db::state_tracking
