// modular_arithmetic.cpp: modular arithmetic without brackets (Grazzi et al., ICLR 2025),
// task-protocols.md section C.1, after xlstm/experiments/data/formal_language/tasks/modular_arithmetic.py.
//
// Vocabulary 5 + modulus: 0 PAD, 1 '+', 2 '-', 3 '*', 4 '=', then 5 + r for the residue r in
// [0, modulus) (the paper: modulus 5, vocabulary 10). The length n is odd,
// n = 2 * U{ceil(min/2) .. floor((max+1)/2)} - 1, exactly as the source draws it; so n = min - 1
// when min is even (the paper's test set, min 40, contains n = 39). Numbers (uniform residues) sit
// at even positions 0 .. n-3 and operators (uniform over + - *) at the odd positions between them;
// '=' is at n-2 and the answer at n-1. The value honours precedence (* before + and -, both
// left-associative) and is reduced into [0, modulus). The answer is read at '='. Chance 1/modulus.
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
constexpr int32_t kPlus = 1;
constexpr int32_t kMinus = 2;
constexpr int32_t kTimes = 3;
constexpr int32_t kEquals = 4;
constexpr int32_t kFirstDigit = 5;
// one number, '=', the answer
constexpr int64_t kShortestExpression = 3;

// largest odd n the source's length rule can produce for `max`
int64_t longest_odd_length(int64_t max) { return 2 * ((max + 1) / 2) - 1; }

class ModularArithmeticTask final : public state_tracking::FormalLanguageTask {
 public:
  ModularArithmeticTask(const FormalLanguageConfig& config, int64_t modulus)
      : FormalLanguageTask("modular_arithmetic", config), modulus_(modulus) {}

  int vocab_size() const override { return static_cast<int>(kFirstDigit + modulus_); }
  int32_t pad_token() const override { return kPad; }
  double chance_rate() const override { return 1.0 / static_cast<double>(modulus_); }
  // input = the expression and '=' (n - 1 tokens)
  int max_input_length() const override {
    return static_cast<int>(longest_odd_length(std::max(config().train.max, config().test.max)) - 1);
  }

  std::string describe(const Example& ex) const override {
    return describe_expression(ex, modulus_, [this](int32_t t) { return token_text(t); });
  }

 protected:
  FormalSequence draw(Rng& rng, const LengthRange& range) const override {
    // the source's rule: n = 2 * U{ceil(min/2) .. floor((max+1)/2)} - 1
    const int64_t half = rng.between((range.min + 1) / 2, (range.max + 1) / 2);
    FormalSequence seq;
    seq.length = 2 * half - 1;
    const int64_t numbers = half - 1;  // (n - 1) / 2
    seq.tokens.reserve(static_cast<size_t>(seq.length));

    // value = total + sign * term, where term is the running product of the current summand
    int64_t total = 0, term = 0, sign = 1;
    for (int64_t k = 0; k < numbers; ++k) {
      const int64_t number = static_cast<int64_t>(rng.below(static_cast<uint64_t>(modulus_)));
      if (k == 0) {
        term = number;
      } else {
        const int32_t op = kPlus + static_cast<int32_t>(rng.below(3));
        seq.tokens.push_back(op);
        if (op == kTimes) {
          term = term * number % modulus_;
        } else {
          total = (total + sign * term) % modulus_;
          sign = op == kMinus ? -1 : 1;
          term = number;
        }
      }
      seq.tokens.push_back(kFirstDigit + static_cast<int32_t>(number));
    }
    total = (total + sign * term) % modulus_;
    const int64_t answer = (total + modulus_) % modulus_;
    seq.tokens.push_back(kEquals);
    seq.tokens.push_back(kFirstDigit + static_cast<int32_t>(answer));
    return seq;
  }

 private:
  std::string token_text(int32_t t) const {
    switch (t) {
      case kPad: return "PAD";
      case kPlus: return "+";
      case kMinus: return "-";
      case kTimes: return "*";
      case kEquals: return "=";
      default: return t >= kFirstDigit && t < kFirstDigit + modulus_ ? std::to_string(t - kFirstDigit) : "?";
    }
  }

  int64_t modulus_;
};

}  // namespace

extern const TaskEntry modular_arithmetic_task_entry{
    "modular_arithmetic",
    "Grazzi et al. modular arithmetic without brackets: evaluate d op d op ... (+ - *, precedence) mod 5",
    state_tracking::formal_language_options(true),
    [](const Options& options) -> std::unique_ptr<Task> {
      auto config = state_tracking::read_formal_language_config(options, kShortestExpression, kShortestExpression);
      return std::make_unique<ModularArithmeticTask>(config, state_tracking::read_modulus(options));
    }};

}  // namespace db
