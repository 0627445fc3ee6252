// test_state_tracking.cpp: tests of the Grazzi et al. Chomsky tasks (parity, modular_arithmetic,
// modular_arithmetic_brackets; task-protocols.md section C.1, after
// xlstm/experiments/data/formal_language/tasks/*.py).
//
// Every answer is checked against an evaluator written here and independent of the generators: a
// count of 2s for parity and a recursive-descent parser (precedence, unary minus, brackets) over
// the rendered token string for both arithmetic tasks. Lengths, layout, determinism, split
// disjointness and every validation error are checked too.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tasks/task.h"

namespace db {
namespace {

using Overrides = std::map<std::string, OptionValue>;

std::unique_ptr<Task> make(const std::string& name, const Overrides& overrides = {}) {
  return create_task(name, overrides);
}

// index of the one labelled target; fails the test when there is not exactly one
size_t labelled_position(const Example& ex) {
  size_t found = ex.target.size();
  int labelled = 0;
  for (size_t i = 0; i < ex.target.size(); ++i)
    if (ex.target[i] != IGNORE) {
      found = i;
      ++labelled;
    }
  EXPECT_EQ(labelled, 1);
  return found;
}

// ---- an independent evaluator: tokens are rendered to symbols, then parsed by recursive descent
//   expr   := term (('+' | '-') term)*
//   term   := factor ('*' factor)*
//   factor := '-' factor | '(' expr ')' | number
struct Symbol {
  char kind;       // '+', '-', '*', '(', ')', '=' or 'n' for a number
  int64_t value;   // for 'n'
};

class ModularParser {
 public:
  ModularParser(std::vector<Symbol> symbols, int64_t modulus) : s_(std::move(symbols)), m_(modulus) {}
  // value of the whole symbol string in [0, m); records a failure if anything is left over
  int64_t evaluate() {
    const int64_t v = expr();
    if (pos_ != s_.size()) ok_ = false;
    return norm(v);
  }
  bool ok() const { return ok_; }

 private:
  int64_t norm(int64_t v) const { return ((v % m_) + m_) % m_; }
  bool at(char c) const { return pos_ < s_.size() && s_[pos_].kind == c; }
  int64_t expr() {
    int64_t v = term();
    while (at('+') || at('-')) {
      const char op = s_[pos_++].kind;
      const int64_t r = term();
      v = norm(op == '+' ? v + r : v - r);
    }
    return v;
  }
  int64_t term() {
    int64_t v = factor();
    while (at('*')) {
      ++pos_;
      v = norm(v * factor());
    }
    return v;
  }
  int64_t factor() {
    if (at('-')) {
      ++pos_;
      return norm(-factor());
    }
    if (at('(')) {
      ++pos_;
      const int64_t v = expr();
      if (!at(')')) ok_ = false;
      ++pos_;
      return v;
    }
    if (at('n')) return norm(s_[pos_++].value);
    ok_ = false;
    ++pos_;
    return 0;
  }
  std::vector<Symbol> s_;
  int64_t m_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// token ids of the no-bracket task (section C.1): 0 PAD, 1 +, 2 -, 3 *, 4 =, 5 + r
Symbol plain_symbol(int32_t t) {
  switch (t) {
    case 1: return {'+', 0};
    case 2: return {'-', 0};
    case 3: return {'*', 0};
    case 4: return {'=', 0};
    default: return {t >= 5 ? 'n' : '?', t - 5};
  }
}
// token ids of the bracket task: residues 0..m-1, + m, - m+1, * m+2, ( m+3, ) m+4, = m+5, PAD m+6
Symbol bracket_symbol(int32_t t, int64_t m) {
  if (t >= 0 && t < m) return {'n', t};
  const char kinds[] = {'+', '-', '*', '(', ')', '=', 'P'};
  return {t - m < 7 ? kinds[t - m] : '?', 0};
}

TEST(StateTrackingRegistry, TasksAreRegisteredWithDocumentedDefaults) {
  for (const char* name : {"parity", "modular_arithmetic", "modular_arithmetic_brackets"}) {
    const TaskEntry* e = find_task(name);
    ASSERT_NE(e, nullptr) << name;
    std::map<std::string, OptionValue> defaults;
    for (const auto& spec : e->options) defaults[spec.key] = spec.default_value;
    EXPECT_EQ(std::get<int64_t>(defaults.at("min_length")), 3);
    EXPECT_EQ(std::get<int64_t>(defaults.at("max_length")), 40);
    EXPECT_EQ(std::get<int64_t>(defaults.at("test_min_length")), 40);
    EXPECT_EQ(std::get<int64_t>(defaults.at("test_max_length")), 256);
    EXPECT_EQ(std::get<int64_t>(defaults.at("test_examples")), 8192);
    EXPECT_GT(std::get<int64_t>(defaults.at("train_examples")), 0);
    EXPECT_EQ(defaults.count("modulus"), std::string(name) == "parity" ? 0u : 1u);
  }
  EXPECT_EQ(std::get<int64_t>(find_task("modular_arithmetic")->options.back().default_value), 5);
}

TEST(StateTrackingRegistry, ContractValues) {
  auto parity = make("parity");
  EXPECT_EQ(parity->vocab_size(), 3);
  EXPECT_EQ(parity->pad_token(), 0);
  EXPECT_EQ(parity->metric(), MetricKind::scaled_accuracy);
  EXPECT_DOUBLE_EQ(parity->chance_rate(), 0.5);
  EXPECT_TRUE(parity->fresh_train_data());
  EXPECT_EQ(parity->split_size(Split::test), 8192);
  EXPECT_EQ(parity->max_input_length(), 255);

  auto arith = make("modular_arithmetic");
  EXPECT_EQ(arith->vocab_size(), 10);
  EXPECT_EQ(arith->pad_token(), 0);
  EXPECT_DOUBLE_EQ(arith->chance_rate(), 0.2);
  EXPECT_TRUE(arith->fresh_train_data());
  EXPECT_EQ(arith->max_input_length(), 254);  // n = 255 is the longest odd length

  auto brackets = make("modular_arithmetic_brackets");
  EXPECT_EQ(brackets->vocab_size(), 12);
  EXPECT_EQ(brackets->pad_token(), 11);
  EXPECT_DOUBLE_EQ(brackets->chance_rate(), 0.2);
  EXPECT_EQ(brackets->max_input_length(), 254);

  auto arith7 = make("modular_arithmetic", {{"modulus", int64_t{7}}});
  EXPECT_EQ(arith7->vocab_size(), 12);
  EXPECT_DOUBLE_EQ(arith7->chance_rate(), 1.0 / 7);
  auto brackets7 = make("modular_arithmetic_brackets", {{"modulus", int64_t{7}}});
  EXPECT_EQ(brackets7->vocab_size(), 14);
  EXPECT_EQ(brackets7->pad_token(), 13);

  auto sized = make("parity", {{"train_examples", int64_t{123}}, {"test_examples", int64_t{45}}});
  EXPECT_EQ(sized->split_size(Split::train), 123);
  EXPECT_EQ(sized->split_size(Split::test), 45);
}

TEST(Parity, AnswerIsTheParityOfTheNumberOfTwos) {
  auto task = make("parity");
  for (Split split : {Split::train, Split::test}) {
    const auto examples = task->generate(split, split_seed(7, split), 0, 3000);
    int64_t twos = 0, bits = 0, odd_answers = 0;
    for (const auto& ex : examples) {
      ASSERT_EQ(ex.input.size(), ex.target.size());
      const int64_t n = ex.meta.at("length");
      ASSERT_EQ(static_cast<int64_t>(ex.input.size()), n - 1);  // the n-1 bits, answer excluded
      // the answer is read at the last bit
      ASSERT_EQ(labelled_position(ex), ex.input.size() - 1);
      int64_t count = 0;
      for (int32_t t : ex.input) {
        ASSERT_TRUE(t == 1 || t == 2) << t;
        count += t == 2;
      }
      EXPECT_EQ(ex.target.back(), count % 2 + 1);
      twos += count;
      bits += static_cast<int64_t>(ex.input.size());
      odd_answers += ex.target.back() == 2;
      EXPECT_LE(static_cast<int>(ex.input.size()), task->max_input_length());
    }
    // uniform bits and a balanced answer
    EXPECT_NEAR(static_cast<double>(twos) / static_cast<double>(bits), 0.5, 0.02);
    EXPECT_NEAR(static_cast<double>(odd_answers) / 3000.0, 0.5, 0.05);
  }
}

TEST(Parity, LengthsLieInAndCoverTheConfiguredRanges) {
  auto task = make("parity", {{"min_length", int64_t{2}}, {"max_length", int64_t{17}},
                              {"test_min_length", int64_t{40}}, {"test_max_length", int64_t{256}}});
  std::set<int64_t> train_lengths, test_lengths;
  for (const auto& ex : task->generate(Split::train, 1, 0, 2000)) train_lengths.insert(ex.meta.at("length"));
  for (const auto& ex : task->generate(Split::test, 2, 0, 8192)) test_lengths.insert(ex.meta.at("length"));
  EXPECT_EQ(train_lengths.size(), 16u);
  EXPECT_EQ(*train_lengths.begin(), 2);
  EXPECT_EQ(*train_lengths.rbegin(), 17);
  EXPECT_EQ(test_lengths.size(), 217u);
  EXPECT_EQ(*test_lengths.begin(), 40);
  EXPECT_EQ(*test_lengths.rbegin(), 256);
}

TEST(ModularArithmetic, AnswerMatchesAnIndependentPrecedenceParser) {
  for (int64_t modulus : {5, 7, 2}) {
    auto task = make("modular_arithmetic", {{"modulus", modulus}});
    std::set<int32_t> answers, operators;
    int precedence_mattered = 0;
    for (Split split : {Split::train, Split::test}) {
      for (const auto& ex : task->generate(split, split_seed(11, split), 0, 1500)) {
        const int64_t n = ex.meta.at("length");
        ASSERT_EQ(n % 2, 1);
        ASSERT_EQ(static_cast<int64_t>(ex.input.size()), n - 1);
        ASSERT_EQ(ex.input.back(), 4);  // '=' at n-2, the answer read there
        ASSERT_EQ(labelled_position(ex), ex.input.size() - 1);
        std::vector<Symbol> symbols;
        for (size_t i = 0; i + 1 < ex.input.size(); ++i) {
          const Symbol s = plain_symbol(ex.input[i]);
          // numbers at even positions, operators at odd positions
          if (i % 2 == 0) {
            ASSERT_EQ(s.kind, 'n');
            ASSERT_LT(s.value, modulus);
          } else {
            ASSERT_TRUE(s.kind == '+' || s.kind == '-' || s.kind == '*');
            operators.insert(ex.input[i]);
          }
          symbols.push_back(s);
        }
        ModularParser parser(symbols, modulus);
        const int64_t expected = parser.evaluate();
        ASSERT_TRUE(parser.ok());
        EXPECT_EQ(ex.target.back(), 5 + expected);
        // a strictly left-to-right reading, to show that precedence is what the answers follow
        int64_t naive = symbols[0].value;
        for (size_t k = 1; k + 1 < symbols.size(); k += 2) {
          const int64_t r = symbols[k + 1].value;
          naive = symbols[k].kind == '+' ? naive + r : symbols[k].kind == '-' ? naive - r : naive * r;
          naive = ((naive % modulus) + modulus) % modulus;
        }
        precedence_mattered += naive != expected;
        answers.insert(ex.target.back());
        EXPECT_LT(ex.target.back(), task->vocab_size());
      }
    }
    EXPECT_EQ(static_cast<int64_t>(answers.size()), modulus);
    EXPECT_EQ(operators.size(), 3u);
    EXPECT_GT(precedence_mattered, 100);
  }
}

TEST(ModularArithmetic, LengthsAreOddAndFollowTheSourceRule) {
  // the source draws n = 2 * U{ceil(min/2) .. floor((max+1)/2)} - 1
  auto task = make("modular_arithmetic", {{"min_length", int64_t{3}}, {"max_length", int64_t{40}},
                                          {"test_min_length", int64_t{40}}, {"test_max_length", int64_t{256}}});
  std::set<int64_t> train_lengths, test_lengths;
  for (const auto& ex : task->generate(Split::train, 3, 0, 3000)) train_lengths.insert(ex.meta.at("length"));
  for (const auto& ex : task->generate(Split::test, 4, 0, 8192)) test_lengths.insert(ex.meta.at("length"));
  std::set<int64_t> odd_train, odd_test;
  for (int64_t n = 3; n <= 39; n += 2) odd_train.insert(n);
  for (int64_t n = 39; n <= 255; n += 2) odd_test.insert(n);  // min 40 is even: n = 39 occurs
  EXPECT_EQ(train_lengths, odd_train);
  EXPECT_EQ(test_lengths, odd_test);

  auto odd_bounds = make("modular_arithmetic", {{"min_length", int64_t{5}}, {"max_length", int64_t{9}}});
  std::set<int64_t> lengths;
  for (const auto& ex : odd_bounds->generate(Split::train, 5, 0, 500)) lengths.insert(ex.meta.at("length"));
  EXPECT_EQ(lengths, (std::set<int64_t>{5, 7, 9}));
}

TEST(ModularArithmeticBrackets, AnswerMatchesAnIndependentParserAndExpressionsAreWellFormed) {
  for (int64_t modulus : {5, 7}) {
    auto task = make("modular_arithmetic_brackets", {{"modulus", modulus}});
    const int32_t equals = static_cast<int32_t>(modulus + 5);
    std::set<int32_t> answers;
    bool saw_unary_minus = false;
    for (Split split : {Split::train, Split::test}) {
      for (const auto& ex : task->generate(split, split_seed(13, split), 0, 1500)) {
        const int64_t n = ex.meta.at("length");
        // exactly n-3 expression tokens, then '='; the answer is read at '='
        ASSERT_EQ(static_cast<int64_t>(ex.input.size()), n - 2);
        ASSERT_EQ(ex.input.back(), equals);
        ASSERT_EQ(labelled_position(ex), ex.input.size() - 1);
        std::vector<Symbol> symbols;
        int depth = 0;
        for (size_t i = 0; i + 1 < ex.input.size(); ++i) {
          const Symbol s = bracket_symbol(ex.input[i], modulus);
          ASSERT_TRUE(s.kind == 'n' || s.kind == '+' || s.kind == '-' || s.kind == '(' || s.kind == ')')
              << "token " << ex.input[i];  // no '*' (mult = False), no '=' or PAD inside
          depth += s.kind == '(' ? 1 : s.kind == ')' ? -1 : 0;
          ASSERT_GE(depth, 0);
          if (s.kind == '-' && (symbols.empty() || symbols.back().kind == '(' || symbols.back().kind == '+' ||
                                symbols.back().kind == '-'))
            saw_unary_minus = true;
          symbols.push_back(s);
        }
        ASSERT_EQ(depth, 0);
        ModularParser parser(symbols, modulus);
        const int64_t expected = parser.evaluate();
        ASSERT_TRUE(parser.ok());
        ASSERT_GE(ex.target.back(), 0);
        EXPECT_EQ(ex.target.back(), expected);
        answers.insert(ex.target.back());
      }
    }
    EXPECT_EQ(static_cast<int64_t>(answers.size()), modulus);
    EXPECT_TRUE(saw_unary_minus);
  }
}

TEST(ModularArithmeticBrackets, ShortDrawsAreRaisedToFiveAndLengthsCoverTheRange) {
  auto task = make("modular_arithmetic_brackets");
  std::map<int64_t, int> train_counts;
  std::set<int64_t> test_lengths;
  for (const auto& ex : task->generate(Split::train, 17, 0, 6000)) ++train_counts[ex.meta.at("length")];
  for (const auto& ex : task->generate(Split::test, 18, 0, 8192)) test_lengths.insert(ex.meta.at("length"));
  EXPECT_EQ(train_counts.begin()->first, 5);  // U{3..40} below 5 becomes 5
  EXPECT_EQ(train_counts.rbegin()->first, 40);
  EXPECT_EQ(train_counts.size(), 36u);
  // 5 collects the mass of 3, 4 and 5: about three times any other length
  EXPECT_GT(train_counts[5], 2 * train_counts[20]);
  EXPECT_EQ(test_lengths.size(), 217u);
  EXPECT_EQ(*test_lengths.begin(), 40);
  EXPECT_EQ(*test_lengths.rbegin(), 256);
}

TEST(StateTrackingDeterminism, SameSeedSameDataAndRangesConcatenate) {
  for (const char* name : {"parity", "modular_arithmetic", "modular_arithmetic_brackets"}) {
    auto task = make(name);
    for (Split split : {Split::train, Split::test}) {
      const auto whole = task->generate(split, 99, 0, 300);
      const auto again = task->generate(split, 99, 0, 300);
      const auto other = task->generate(split, 100, 0, 300);
      std::vector<Example> pieces;
      for (auto [first, count] : std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {1, 120}, {121, 0}, {121, 179}}) {
        auto part = task->generate(split, 99, first, count);
        ASSERT_EQ(static_cast<int64_t>(part.size()), count);
        pieces.insert(pieces.end(), part.begin(), part.end());
      }
      int differing = 0;
      ASSERT_EQ(pieces.size(), whole.size());
      for (size_t i = 0; i < whole.size(); ++i) {
        EXPECT_EQ(whole[i].input, again[i].input);
        EXPECT_EQ(whole[i].target, again[i].target);
        EXPECT_EQ(whole[i].meta, again[i].meta);
        EXPECT_EQ(whole[i].input, pieces[i].input) << name << " example " << i;
        EXPECT_EQ(whole[i].target, pieces[i].target);
        EXPECT_EQ(whole[i].meta, pieces[i].meta);
        differing += whole[i].input != other[i].input;
      }
      EXPECT_GT(differing, 250) << name;
    }
  }
}

TEST(StateTrackingSplits, TrainAndTestShareNoExampleWhereTheSpaceIsLarge) {
  for (const char* name : {"parity", "modular_arithmetic", "modular_arithmetic_brackets"}) {
    // the paper's ranges overlap at n = 40 only; with identical ranges the streams must still differ
    for (bool same_ranges : {false, true}) {
      Overrides o;
      if (same_ranges) o = {{"min_length", int64_t{30}}, {"max_length", int64_t{40}},
                            {"test_min_length", int64_t{30}}, {"test_max_length", int64_t{40}}};
      auto task = make(name, o);
      std::set<std::vector<int32_t>> train;
      for (const auto& ex : task->generate(Split::train, split_seed(5, Split::train), 0, 20000))
        if (ex.meta.at("length") >= 30) train.insert(ex.input);
      int shared = 0;
      for (const auto& ex : task->generate(Split::test, split_seed(5, Split::test), 0, 8192))
        shared += static_cast<int>(train.count(ex.input));
      EXPECT_EQ(shared, 0) << name;
    }
  }
}

TEST(StateTrackingDescribe, RendersTheExpressionReadably) {
  auto arith = make("modular_arithmetic");
  // 2 - 3 - 3 * 2 = 3   (2 - 3 - 6 = -7 = 3 mod 5)
  Example ex;
  ex.input = {7, 2, 8, 2, 8, 3, 7, 4};
  ex.target = std::vector<int32_t>(ex.input.size(), IGNORE);
  ex.target.back() = 8;
  ex.meta["length"] = 9;
  EXPECT_EQ(arith->describe(ex).rfind("2 - 3 - 3 * 2 = 3", 0), 0u) << arith->describe(ex);

  auto brackets = make("modular_arithmetic_brackets");
  // ( - 2 + 4 ) = 2 : residues are their own ids, + 5, - 6, ( 8, ) 9, = 10
  Example b;
  b.input = {8, 6, 2, 5, 4, 9, 10};
  b.target = std::vector<int32_t>(b.input.size(), IGNORE);
  b.target.back() = 2;
  EXPECT_EQ(brackets->describe(b).rfind("( - 2 + 4 ) = 2", 0), 0u) << brackets->describe(b);

  auto parity = make("parity");
  const auto generated = parity->generate(Split::train, 1, 0, 1);
  EXPECT_FALSE(parity->describe(generated[0]).empty());
}

void expect_config_error(const std::string& name, const Overrides& o, const std::string& key) {
  try {
    make(name, o);
    ADD_FAILURE() << name << ": no ConfigError for " << key;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key, key) << name << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
  }
}

TEST(StateTrackingValidation, EveryBadValueNamesItsKey) {
  for (const char* name : {"parity", "modular_arithmetic", "modular_arithmetic_brackets"}) {
    expect_config_error(name, {{"min_length", int64_t{0}}}, "min_length");
    expect_config_error(name, {{"min_length", int64_t{30}}, {"max_length", int64_t{20}}}, "max_length");
    expect_config_error(name, {{"test_min_length", int64_t{300}}}, "test_max_length");
    expect_config_error(name, {{"test_min_length", int64_t{-1}}}, "test_min_length");
    expect_config_error(name, {{"max_length", int64_t{1} << 40}}, "max_length");
    expect_config_error(name, {{"train_examples", int64_t{0}}}, "train_examples");
    expect_config_error(name, {{"test_examples", int64_t{-5}}}, "test_examples");
    expect_config_error(name, {{"lenght", int64_t{3}}}, "lenght");
  }
  // the grammar minimums: parity needs a bit, arithmetic a number
  expect_config_error("parity", {{"min_length", int64_t{1}}}, "min_length");
  expect_config_error("modular_arithmetic", {{"min_length", int64_t{2}}}, "min_length");
  expect_config_error("modular_arithmetic", {{"test_min_length", int64_t{2}}}, "test_min_length");
  // the bracket grammar accepts any min but raises it to 5, so max must reach 5
  EXPECT_NO_THROW(make("modular_arithmetic_brackets", {{"min_length", int64_t{1}}}));
  expect_config_error("modular_arithmetic_brackets", {{"min_length", int64_t{3}}, {"max_length", int64_t{4}}},
                      "max_length");
  for (const char* name : {"modular_arithmetic", "modular_arithmetic_brackets"}) {
    expect_config_error(name, {{"modulus", int64_t{1}}}, "modulus");
    expect_config_error(name, {{"modulus", int64_t{100000}}}, "modulus");
  }
  expect_config_error("parity", {{"modulus", int64_t{5}}}, "modulus");  // parity has no modulus
}

}  // namespace
}  // namespace db
