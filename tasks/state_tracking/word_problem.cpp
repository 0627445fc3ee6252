// word_problem.cpp: group word problems over S3, S4, A5 and S5, as in DeltaProduct (Siems et al.,
// NeurIPS 2025) and Grazzi et al. §5.2; task-protocols.md sections C.6 and D, after
// automl/DeltaProduct src/generate_data.py (itself adapted from jopetty/word-problem).
//
// Tokens: the group's elements are ids 0 .. |G|-1 in the order of permutation_group.h (lexicographic
// one-line notation, identity = 0); BOS = |G|, PAD = |G| + 1 (never needed: every example of a split
// has the same length). An example of length L is
//   input  = [BOS, x_1, ..., x_L]          x_t i.i.d. uniform over the group
//   target = [IGNORE, s_1, ..., s_L]       s_t = x_1 . x_2 . ... . x_t (first x_1, then x_2, ...)
// i.e. BOS is prepended to inputs and labels as in DeltaProduct and the output at position i is
// compared with label i (no shift). DeltaProduct's label at the BOS position is BOS itself, which
// carries no information; it is IGNORE here so the loss and the prefix metric cover exactly the L
// group elements. Metadata "length" = L. Metric: sequence accuracy for each prefix length.
//
// Duplicates: DeltaProduct rejects duplicate sequences within a split. Drawing i.i.d. and rejecting
// duplicates is the same as sampling distinct sequences uniformly without replacement. When the
// space |G|^L is at most 2^62, example i is the sequence with code pi(i) (its base-|G| digits),
// where pi is a keyed pseudo-random permutation of [0, |G|^L): distinct by construction, and still
// independent of how [first, first+count) is cut. The key is the split seed with its top bit cleared,
// which split_seed() gives to both splits of one base seed; when train_length == test_length the
// test split uses codes pi(train_examples + i), so train and test are disjoint too. Above 2^62 the
// elements are drawn i.i.d. per example: two of N sequences then coincide with probability below
// N^2 / 2^63 (about 1e-9 for the README's 100,000), so no check is made.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <bit>
#include <stdexcept>

#include "common/rng.h"
#include "tasks/state_tracking/permutation_group.h"
#include "tasks/state_tracking/state_tracking.h"

namespace db {
namespace {

using state_tracking::Permutation;
using state_tracking::PermutationGroup;

constexpr int64_t kMaxWordLength = int64_t{1} << 20;
// the largest sequence space enumerated by a keyed permutation; larger spaces are sampled i.i.d.
constexpr uint64_t kLargestEnumeratedSpace = uint64_t{1} << 62;

// |G|^L, or 0 when it exceeds kLargestEnumeratedSpace
uint64_t sequence_space(int order, int64_t length) {
  uint64_t space = 1;
  for (int64_t t = 0; t < length; ++t) {
    if (space > kLargestEnumeratedSpace / static_cast<uint64_t>(order)) return 0;
    space *= static_cast<uint64_t>(order);
  }
  return space;
}

// A keyed bijection of [0, domain): a balanced Feistel network on the smallest even number of bits
// that covers the domain, with cycle walking to stay inside it (fewer than 4 steps on average).
class KeyedIndexPermutation {
 public:
  KeyedIndexPermutation(uint64_t key, uint64_t domain) : key_(key), domain_(domain) {
    const int bits = std::max(2, static_cast<int>(std::bit_width(domain - 1)));
    half_bits_ = (bits + 1) / 2;
    half_mask_ = (uint64_t{1} << half_bits_) - 1;
  }

  uint64_t operator()(uint64_t index) const {
    uint64_t x = encrypt(index);
    while (x >= domain_) x = encrypt(x);
    return x;
  }

 private:
  uint64_t encrypt(uint64_t x) const {
    uint64_t left = x >> half_bits_, right = x & half_mask_;
    for (uint64_t round = 0; round < kRounds; ++round) {
      const uint64_t mixed = splitmix64(key_ ^ splitmix64((round << 56) ^ right)) & half_mask_;
      const uint64_t next_right = left ^ mixed;
      left = right;
      right = next_right;
    }
    return (left << half_bits_) | right;
  }

  static constexpr uint64_t kRounds = 8;
  uint64_t key_;
  uint64_t domain_;
  int half_bits_ = 1;
  uint64_t half_mask_ = 1;
};

std::string one_line(const Permutation& p) {
  std::string s = "[";
  for (size_t i = 0; i < p.size(); ++i) s += fmt::format("{}{}", i ? " " : "", p[i] + 1);
  return s + "]";
}

struct WordProblemConfig {
  std::string group;
  int64_t train_length = 0;
  int64_t test_length = 0;
  int64_t train_examples = 0;
  int64_t test_examples = 0;
  bool reject_duplicates = true;
};

class WordProblemTask final : public Task {
 public:
  WordProblemTask(const WordProblemConfig& config, PermutationGroup group)
      : config_(config),
        group_(std::move(group)),
        train_space_(sequence_space(group_.order(), config.train_length)),
        test_space_(sequence_space(group_.order(), config.test_length)) {}

  std::string name() const override { return "word_problem"; }
  int vocab_size() const override { return group_.order() + 2; }
  int max_input_length() const override {
    return static_cast<int>(std::max(config_.train_length, config_.test_length) + 1);
  }
  int32_t pad_token() const override { return group_.order() + 1; }
  MetricKind metric() const override { return MetricKind::sequence_prefix; }
  int64_t split_size(Split split) const override {
    return split == Split::train ? config_.train_examples : config_.test_examples;
  }
  // DeltaProduct trains for many epochs over one fixed file
  bool fresh_train_data() const override { return false; }

  std::vector<Example> generate(Split split, uint64_t seed, int64_t first, int64_t count) const override {
    if (first < 0 || count < 0) throw std::invalid_argument(fmt::format("word_problem: bad range [{}, +{})", first, count));
    const bool train = split == Split::train;
    const int64_t length = train ? config_.train_length : config_.test_length;
    const uint64_t space = train ? train_space_ : test_space_;
    const bool enumerate = config_.reject_duplicates && space != 0;
    const uint64_t order = static_cast<uint64_t>(group_.order());
    const int32_t bos = group_.order();
    // the test split continues the train split's codes when both share one sequence space
    const int64_t offset = !train && config_.train_length == config_.test_length ? config_.train_examples : 0;
    const KeyedIndexPermutation codes(splitmix64(seed & ~(uint64_t{1} << 63)), enumerate ? space : 1);

    std::vector<Example> out;
    out.reserve(static_cast<size_t>(count));
    for (int64_t i = first; i < first + count; ++i) {
      Example ex;
      ex.input.resize(static_cast<size_t>(length + 1));
      ex.target.resize(static_cast<size_t>(length + 1));
      ex.input[0] = bos;
      ex.target[0] = IGNORE;
      Rng rng(state_tracking::example_seed(seed, i));
      uint64_t code = enumerate ? codes(static_cast<uint64_t>(offset + i)) : 0;
      int state = PermutationGroup::identity();
      for (int64_t t = 1; t <= length; ++t) {
        int element;
        if (enumerate) {
          element = static_cast<int>(code % order);
          code /= order;
        } else {
          element = static_cast<int>(rng.below(order));
        }
        state = group_.multiply(state, element);
        ex.input[static_cast<size_t>(t)] = element;
        ex.target[static_cast<size_t>(t)] = state;
      }
      ex.meta["length"] = length;
      out.push_back(std::move(ex));
    }
    return out;
  }

  std::string describe(const Example& ex) const override {
    std::string s = fmt::format("{} word problem, length {}; elements in one-line notation (1-based), "
                                "product = first x_1, then x_2, ...\n  t  x_t{:<{}}  prefix product",
                                group_.name(), ex.input.empty() ? 0 : ex.input.size() - 1, "",
                                2 * group_.degree() + 4);
    for (size_t t = 1; t < ex.input.size(); ++t) {
      const std::string x = ex.input[t] >= 0 && ex.input[t] < group_.order()
                                ? fmt::format("{} #{}", one_line(group_.element(ex.input[t])), ex.input[t])
                                : std::string("?");
      const std::string st = t < ex.target.size() && ex.target[t] >= 0 && ex.target[t] < group_.order()
                                 ? fmt::format("{} #{}", one_line(group_.element(ex.target[t])), ex.target[t])
                                 : std::string(".");
      s += fmt::format("\n{:>3}  {:<{}}  {}", t, x, 2 * group_.degree() + 7, st);
    }
    return s;
  }

 private:
  WordProblemConfig config_;
  PermutationGroup group_;
  uint64_t train_space_;  // |G|^train_length, 0 when above 2^62
  uint64_t test_space_;
};

int64_t read_positive(const Options& options, const std::string& key, int64_t largest) {
  const int64_t v = options.get_int(key);
  if (v < 1 || v > largest)
    throw ConfigError(key, fmt::format("'{}' must lie in [1, {}], got {}", key, largest, v));
  return v;
}

std::unique_ptr<Task> create_word_problem(const Options& options) {
  WordProblemConfig c;
  c.group = options.get_string("group");
  const auto& names = PermutationGroup::known_names();
  if (std::find(names.begin(), names.end(), c.group) == names.end())
    throw ConfigError("group", fmt::format("'group' must be one of {}, got '{}'", fmt::join(names, ", "), c.group));
  c.train_length = read_positive(options, "train_length", kMaxWordLength);
  c.test_length = read_positive(options, "test_length", kMaxWordLength);
  c.train_examples = read_positive(options, "train_examples", int64_t{1} << 40);
  c.test_examples = read_positive(options, "test_examples", int64_t{1} << 40);
  c.reject_duplicates = options.get_bool("reject_duplicates");
  PermutationGroup group = PermutationGroup::by_name(c.group);

  if (c.reject_duplicates) {
    // sampling without replacement needs enough distinct sequences (0 = more than 2^62)
    const uint64_t train_space = sequence_space(group.order(), c.train_length);
    const uint64_t test_space = sequence_space(group.order(), c.test_length);
    if (train_space != 0 && static_cast<uint64_t>(c.train_examples) > train_space)
      throw ConfigError("train_examples",
                        fmt::format("'train_examples' ({}) exceeds the {} distinct {} sequences of length {} "
                                    "(reject_duplicates is on)", c.train_examples, train_space, c.group, c.train_length));
    const bool shared = c.train_length == c.test_length;
    const uint64_t wanted = static_cast<uint64_t>(c.test_examples) + (shared ? static_cast<uint64_t>(c.train_examples) : 0);
    if (test_space != 0 && wanted > test_space)
      throw ConfigError("test_examples",
                        fmt::format("'test_examples' ({}){} exceeds the {} distinct {} sequences of length {} "
                                    "(reject_duplicates is on)", c.test_examples,
                                    shared ? fmt::format(" plus train_examples ({})", c.train_examples) : "",
                                    test_space, c.group, c.test_length));
  }
  return std::make_unique<WordProblemTask>(c, std::move(group));
}

}  // namespace

extern const TaskEntry word_problem_task_entry{
    "word_problem",
    "DeltaProduct group word problem: running product of i.i.d. S3/S4/A5/S5 elements, scored at every token",
    {
        {"group", std::string("S3"), "permutation group: S3, S4, A5 or S5", PermutationGroup::known_names()},
        {"train_length", int64_t{128}, "elements per training sequence (DeltaProduct README: 128)", {}},
        {"test_length", int64_t{512}, "elements per test sequence (DeltaProduct README: 512)", {}},
        {"train_examples", int64_t{10000},
         "training sequences, one fixed set replayed every epoch (CPU-sized; DeltaProduct uses 100000 "
         "at full scale)", {}},
        {"test_examples", int64_t{1000}, "test sequences (DeltaProduct evaluates 1% of 100000 = 1000)", {}},
        {"reject_duplicates", true, "no sequence occurs twice within a split (as DeltaProduct's generator)", {}},
    },
    create_word_problem};

}  // namespace db
