// formal_language.cpp: options, validation and the shift-by-one example layout shared by the
// Grazzi et al. Chomsky tasks (see formal_language.h; protocol: task-protocols.md section C.1,
// xlstm/experiments/data/formal_language/formal_language_dataset.py).
#include "tasks/state_tracking/formal_language.h"

#include <fmt/format.h>

#include <stdexcept>

#include "tasks/state_tracking/state_tracking.h"

namespace db::state_tracking {

uint64_t example_seed(uint64_t split_seed, int64_t index) {
  // two splitmix rounds so neighbouring indices and neighbouring split seeds give unrelated streams
  return splitmix64(split_seed ^ splitmix64(static_cast<uint64_t>(index) + 0x632be59bd9b4e019ULL));
}

OptionSpecs formal_language_options(bool with_modulus) {
  OptionSpecs specs = {
      {"min_length", int64_t{3}, "shortest training example length n (the paper: 3)", {}},
      {"max_length", int64_t{40}, "longest training example length n (the paper: 40)", {}},
      {"test_min_length", int64_t{40}, "shortest test example length n (the paper: 40)", {}},
      {"test_max_length", int64_t{256}, "longest test example length n (the paper: 256)", {}},
      {"train_examples", int64_t{16384},
       "training examples per epoch, freshly drawn every epoch (16 batches of the paper's 1024; "
       "the paper's 100k steps at batch 1024 are epochs x train_examples = 102.4M examples)", {}},
      {"test_examples", int64_t{8192}, "test examples (the paper: 8192)", {}},
  };
  if (with_modulus)
    specs.push_back({"modulus", int64_t{5},
                     fmt::format("modulus of the arithmetic (the paper: 5); one token per residue, so the "
                                 "vocabulary grows with it; at most {}", kMaxModulus),
                     {}});
  return specs;
}

namespace {

LengthRange read_range(const Options& options, const std::string& min_key, const std::string& max_key,
                       int64_t smallest_min_length, int64_t smallest_max_length) {
  LengthRange r{options.get_int(min_key), options.get_int(max_key)};
  if (r.min < smallest_min_length)
    throw ConfigError(min_key, fmt::format("'{}' must be at least {} (the shortest example the grammar can "
                                           "write), got {}", min_key, smallest_min_length, r.min));
  if (r.max > kMaxFormalLength)
    throw ConfigError(max_key, fmt::format("'{}' must be at most {}, got {}", max_key, kMaxFormalLength, r.max));
  if (r.max < r.min)
    throw ConfigError(max_key, fmt::format("'{}' ({}) must not be below '{}' ({})", max_key, r.max, min_key, r.min));
  if (r.max < smallest_max_length)
    throw ConfigError(max_key, fmt::format("'{}' must be at least {} (the grammar raises shorter lengths to "
                                           "{}), got {}", max_key, smallest_max_length, smallest_max_length, r.max));
  return r;
}

int64_t read_count(const Options& options, const std::string& key) {
  const int64_t n = options.get_int(key);
  if (n < 1) throw ConfigError(key, fmt::format("'{}' must be at least 1, got {}", key, n));
  return n;
}

}  // namespace

FormalLanguageConfig read_formal_language_config(const Options& options, int64_t smallest_min_length,
                                                 int64_t smallest_max_length) {
  FormalLanguageConfig c;
  c.train = read_range(options, "min_length", "max_length", smallest_min_length, smallest_max_length);
  c.test = read_range(options, "test_min_length", "test_max_length", smallest_min_length, smallest_max_length);
  c.train_examples = read_count(options, "train_examples");
  c.test_examples = read_count(options, "test_examples");
  return c;
}

int64_t read_modulus(const Options& options) {
  const int64_t m = options.get_int("modulus");
  if (m < 2 || m > kMaxModulus)
    throw ConfigError("modulus", fmt::format("'modulus' must lie in [2, {}], got {}", kMaxModulus, m));
  return m;
}

FormalLanguageTask::FormalLanguageTask(std::string name, FormalLanguageConfig config)
    : name_(std::move(name)), config_(config) {}

int64_t FormalLanguageTask::split_size(Split split) const {
  return split == Split::train ? config_.train_examples : config_.test_examples;
}

std::vector<Example> FormalLanguageTask::generate(Split split, uint64_t seed, int64_t first, int64_t count) const {
  if (first < 0 || count < 0) throw std::invalid_argument(fmt::format("{}: bad range [{}, +{})", name_, first, count));
  const LengthRange& range = split == Split::train ? config_.train : config_.test;
  std::vector<Example> out;
  out.reserve(static_cast<size_t>(count));
  for (int64_t i = first; i < first + count; ++i) {
    Rng rng(example_seed(seed, i));
    FormalSequence seq = draw(rng, range);
    const size_t answer_pos = seq.tokens.size() - 1;
    Example ex;
    // input = row[:-1] of the source, cut before the (zeroed) answer slot; target = row[1:], masked
    // to the answer, so the answer is read at the last input position
    ex.input.assign(seq.tokens.begin(), seq.tokens.begin() + static_cast<std::ptrdiff_t>(answer_pos));
    ex.target.assign(answer_pos, IGNORE);
    ex.target[answer_pos - 1] = seq.tokens[answer_pos];
    ex.meta["length"] = seq.length;
    out.push_back(std::move(ex));
  }
  return out;
}

std::string FormalLanguageTask::describe_expression(const Example& ex, int64_t modulus,
                                                   const std::function<std::string(int32_t)>& token_text) {
  std::string text;
  for (int32_t t : ex.input) {
    if (!text.empty()) text += ' ';
    text += token_text(t);
  }
  return fmt::format("{} {}  (n = {}, mod {})", text, token_text(answer_of(ex)),
                     ex.meta.count("length") ? ex.meta.at("length") : 0, modulus);
}

int32_t FormalLanguageTask::answer_of(const Example& ex) {
  for (size_t i = ex.target.size(); i-- > 0;)
    if (ex.target[i] != IGNORE) return ex.target[i];
  return -1;
}

}  // namespace db::state_tracking
