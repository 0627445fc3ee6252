// modular_arithmetic_brackets.cpp: modular arithmetic with brackets (Grazzi et al., ICLR 2025),
// task-protocols.md section C.1, after
// xlstm/experiments/data/formal_language/tasks/modular_arithmetic_with_brackets.py (mult = False).
//
// Vocabulary modulus + 7: residues 0 .. modulus-1 are ids 0 .. modulus-1, then '+' m, '-' m+1,
// '*' m+2 (allocated but never written, as in the source), '(' m+3, ')' m+4, '=' m+5, PAD m+6
// (the paper: modulus 5, vocabulary 12, PAD 11). Length n = max(U{min..max}, 5); the expression
// has exactly n-3 tokens, followed by '=', the answer and PAD (n counts all of them). The grammar,
// for an expression of length len:
//   len >= 5: ( left op right ) with |left| ~ U{1..len-4}, |right| = len-3-|left|, op uniform in {+, -}
//   len 1: d    len 2: - d    len 3: ( d )    len 4: ( - d )        (d a uniform residue)
// The value is reduced into [0, modulus). The answer is read at '='. Chance 1/modulus.
#include <fmt/format.h>

#include <algorithm>

#include "tasks/state_tracking/formal_language.h"
#include "tasks/state_tracking/state_tracking.h"

namespace db {
namespace {

using state_tracking::FormalLanguageConfig;
using state_tracking::FormalSequence;
using state_tracking::LengthRange;

// the source raises every drawn n below this to it (shortest row: "- d = r PAD")
constexpr int64_t kShortestRow = 5;

class ModularArithmeticBracketsTask final : public state_tracking::FormalLanguageTask {
 public:
  ModularArithmeticBracketsTask(const FormalLanguageConfig& config, int64_t modulus)
      : FormalLanguageTask("modular_arithmetic_brackets", config),
        modulus_(modulus),
        plus_(static_cast<int32_t>(modulus)),
        minus_(plus_ + 1),
        times_(plus_ + 2),
        open_(plus_ + 3),
        close_(plus_ + 4),
        equals_(plus_ + 5),
        pad_(plus_ + 6) {}

  int vocab_size() const override { return static_cast<int>(modulus_ + 7); }
  int32_t pad_token() const override { return pad_; }
  double chance_rate() const override { return 1.0 / static_cast<double>(modulus_); }
  // input = the expression and '=' (n - 2 tokens)
  int max_input_length() const override {
    return static_cast<int>(std::max(config().train.max, config().test.max) - 2);
  }

  std::string describe(const Example& ex) const override {
    return describe_expression(ex, modulus_, [this](int32_t t) { return token_text(t); });
  }

 protected:
  FormalSequence draw(Rng& rng, const LengthRange& range) const override {
    FormalSequence seq;
    seq.length = std::max(rng.between(range.min, range.max), kShortestRow);
    seq.tokens.reserve(static_cast<size_t>(seq.length));
    const int64_t value = write_expression(seq.length - 3, rng, seq.tokens);
    seq.tokens.push_back(equals_);
    seq.tokens.push_back(static_cast<int32_t>(value));
    return seq;
  }

 private:
  // appends an expression of exactly `length` tokens to `out`; returns its value in [0, modulus)
  int64_t write_expression(int64_t length, Rng& rng, std::vector<int32_t>& out) const {
    if (length < 5) {
      const int64_t d = static_cast<int64_t>(rng.below(static_cast<uint64_t>(modulus_)));
      const int64_t negated = (modulus_ - d) % modulus_;
      switch (length) {
        case 1: out.insert(out.end(), {digit(d)}); return d;
        case 2: out.insert(out.end(), {minus_, digit(d)}); return negated;
        case 3: out.insert(out.end(), {open_, digit(d), close_}); return d;
        default: out.insert(out.end(), {open_, minus_, digit(d), close_}); return negated;
      }
    }
    const int64_t left_length = rng.between(1, length - 4);
    const int64_t right_length = length - 3 - left_length;
    out.push_back(open_);
    const int64_t left = write_expression(left_length, rng, out);
    // the operator is drawn after both operands, as in the source; its slot is filled in then
    const size_t op_slot = out.size();
    out.push_back(plus_);
    const int64_t right = write_expression(right_length, rng, out);
    out.push_back(close_);
    const bool subtract = rng.below(2) == 1;
    out[op_slot] = subtract ? minus_ : plus_;
    return subtract ? (left - right + modulus_) % modulus_ : (left + right) % modulus_;
  }

  int32_t digit(int64_t d) const { return static_cast<int32_t>(d); }

  std::string token_text(int32_t t) const {
    if (t >= 0 && t < modulus_) return std::to_string(t);
    if (t == plus_) return "+";
    if (t == minus_) return "-";
    if (t == times_) return "*";
    if (t == open_) return "(";
    if (t == close_) return ")";
    if (t == equals_) return "=";
    if (t == pad_) return "PAD";
    return "?";
  }

  int64_t modulus_;
  int32_t plus_, minus_, times_, open_, close_, equals_, pad_;
};

}  // namespace

extern const TaskEntry modular_arithmetic_brackets_task_entry{
    "modular_arithmetic_brackets",
    "Grazzi et al. modular arithmetic with brackets: evaluate a random bracketed +/- expression mod 5",
    state_tracking::formal_language_options(true),
    [](const Options& options) -> std::unique_ptr<Task> {
      // any min_length >= 1 is valid (shorter draws become 5), but max_length must reach 5
      auto config = state_tracking::read_formal_language_config(options, 1, kShortestRow);
      return std::make_unique<ModularArithmeticBracketsTask>(config, state_tracking::read_modulus(options));
    }};

}  // namespace db
