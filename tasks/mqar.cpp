// mqar.cpp: the Zoology MQAR generator (task-protocols.md A.1; zoology/data/multiquery_ar.py) and
// its registry entry. See mqar.h for the layout of an example.
#include "tasks/mqar.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "common/rng.h"

namespace db {

namespace {

// (seq_len, num_kv_pairs, count) triples from a flat list; `key` names the option in errors
std::vector<MqarSegment> parse_segments(const std::string& key, const std::vector<double>& flat) {
  if (flat.size() % 3 != 0)
    throw ConfigError(
        key, fmt::format("'{}' must hold (seq_len, num_kv_pairs, count) triples; got {} numbers", key, flat.size()));
  std::vector<MqarSegment> out;
  for (size_t i = 0; i < flat.size(); i += 3) {
    int64_t v[3];
    for (int j = 0; j < 3; ++j) {
      const double x = flat[i + j];
      if (!(x >= 1.0) || x != std::floor(x) || x > 1e15)
        throw ConfigError(key, fmt::format("'{}' entry {} must be a positive integer, got {}", key, i + j, x));
      v[j] = static_cast<int64_t>(x);
    }
    out.push_back({v[0], v[1], v[2]});
  }
  return out;
}

// Zoology's asserts (L even, 4K <= L, V > L; together they leave each vocabulary half room for K
// distinct tokens); the three keys name the option a user would change to fix each problem
void validate_segment(const std::string& seq_len_key, const std::string& kv_key, const std::string& vocab_key,
                      const std::string& where, int64_t vocab_size, const MqarSegment& s) {
  if (s.seq_len < 2 || s.seq_len % 2 != 0)
    throw ConfigError(seq_len_key, fmt::format("{}seq_len must be even and >= 2, got {}", where, s.seq_len));
  if (s.num_kv_pairs < 1)
    throw ConfigError(kv_key, fmt::format("{}num_kv_pairs must be >= 1, got {}", where, s.num_kv_pairs));
  if (4 * s.num_kv_pairs > s.seq_len)
    throw ConfigError(
        kv_key, fmt::format("{}4*num_kv_pairs ({}) must be <= seq_len ({})", where, 4 * s.num_kv_pairs, s.seq_len));
  if (vocab_size <= s.seq_len)
    throw ConfigError(vocab_key, fmt::format("{}vocab_size ({}) must be > seq_len ({})", where, vocab_size, s.seq_len));
}

// k distinct integers from [0, n) in draw order (uniform over ordered samples). Sparse draws use
// rejection against a marker array, O(k) instead of the O(k^2) list scan; `taken` is scratch of at
// least n zeros and is left all zero.
std::vector<int64_t> draw_distinct(Rng& rng, int64_t n, int64_t k, std::vector<uint8_t>& taken) {
  if (4 * k >= n) return rng.sample_without_replacement(n, k);
  std::vector<int64_t> out;
  out.reserve(k);
  while (static_cast<int64_t>(out.size()) < k) {
    const int64_t x = static_cast<int64_t>(rng.below(static_cast<uint64_t>(n)));
    if (!taken[x]) taken[x] = 1, out.push_back(x);
  }
  for (int64_t x : out) taken[x] = 0;
  return out;
}

// cumulative weights of the query-slot power law p_i ∝ a·i^(a-1), i = 1..space
std::vector<double> slot_cdf(double power_a, int64_t space) {
  std::vector<double> cdf(space);
  double total = 0.0;
  for (int64_t i = 0; i < space; ++i) cdf[i] = total += power_a * std::pow(static_cast<double>(i + 1), power_a - 1.0);
  return cdf;
}

// k distinct slots drawn one after another, each with probability proportional to its weight among
// the slots left (numpy choice(space, k, replace=False, p)). Drawing from the full law and redrawing
// when the slot is taken is exactly that renormalisation. Redraws grow as the taken slots absorb
// the mass (about 5 per draw at the end for K = 64 of 192 slots), which is still far cheaper than
// rescanning all weights for every draw.
std::vector<int64_t> draw_slots(Rng& rng, const std::vector<double>& cdf, int64_t k, std::vector<uint8_t>& taken) {
  const int64_t space = static_cast<int64_t>(cdf.size());
  std::vector<int64_t> out;
  out.reserve(k);
  while (static_cast<int64_t>(out.size()) < k) {
    const double u = rng.uniform() * cdf.back();
    int64_t i = std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin();
    if (i >= space) i = space - 1;
    if (!taken[i]) taken[i] = 1, out.push_back(i);
  }
  for (int64_t i : out) taken[i] = 0;
  return out;
}

// an independent stream for example `index` of a segment, so any sub-range regenerates identically
uint64_t example_stream_seed(uint64_t segment_seed, int64_t index) {
  return splitmix64(segment_seed ^ splitmix64(static_cast<uint64_t>(index)));
}

}  // namespace

MqarTask::MqarTask(const Options& o)
    : vocab_size_(o.get_int("vocab_size")),
      power_a_(o.get_double("power_a")),
      random_non_queries_(o.get_bool("random_non_queries")) {
  if (vocab_size_ < 4 || vocab_size_ > (int64_t{1} << 30))
    throw ConfigError("vocab_size", fmt::format("vocab_size must be in [4, 2^30], got {}", vocab_size_));
  if (!(power_a_ > 0.0) || !std::isfinite(power_a_))
    throw ConfigError("power_a", fmt::format("power_a must be a positive number, got {}", power_a_));

  const MqarSegment single_train{o.get_int("seq_len"), o.get_int("num_kv_pairs"), o.get_int("train_examples")};
  const MqarSegment single_test{o.get_int("seq_len"), o.get_int("num_kv_pairs"), o.get_int("test_examples")};
  train_segments_ = parse_segments("train_segments", o.get_list("train_segments"));
  test_segments_ = parse_segments("test_segments", o.get_list("test_segments"));

  // the single (seq_len, num_kv_pairs) segment is validated only when a split uses it
  if (train_segments_.empty() || test_segments_.empty())
    validate_segment("seq_len", "num_kv_pairs", "vocab_size", "", vocab_size_, single_train);
  if (train_segments_.empty()) {
    if (single_train.count < 0)
      throw ConfigError("train_examples", fmt::format("train_examples must be >= 0, got {}", single_train.count));
    train_segments_.push_back(single_train);
  } else {
    for (size_t i = 0; i < train_segments_.size(); ++i)
      validate_segment("train_segments", "train_segments", "train_segments",
                       fmt::format("train_segments triple {}: ", i), vocab_size_, train_segments_[i]);
  }
  if (test_segments_.empty()) {
    if (single_test.count < 0)
      throw ConfigError("test_examples", fmt::format("test_examples must be >= 0, got {}", single_test.count));
    test_segments_.push_back(single_test);
  } else {
    for (size_t i = 0; i < test_segments_.size(); ++i)
      validate_segment("test_segments", "test_segments", "test_segments", fmt::format("test_segments triple {}: ", i),
                       vocab_size_, test_segments_[i]);
  }
}

int MqarTask::max_input_length() const {
  int64_t longest = 0;
  for (const auto* segs : {&train_segments_, &test_segments_})
    for (const auto& s : *segs) longest = std::max(longest, s.seq_len);
  return static_cast<int>(longest);
}

int64_t MqarTask::split_size(Split split) const {
  int64_t total = 0;
  for (const auto& s : segments(split)) total += s.count;
  return total;
}

Example MqarTask::make_example(const MqarSegment& segment, const std::vector<double>& cdf, uint64_t example_seed,
                               std::vector<uint8_t>& taken) const {
  Rng rng(example_seed);
  const int64_t L = segment.seq_len;
  const int64_t K = segment.num_kv_pairs;
  const int64_t context_len = 2 * K;
  const int64_t half = vocab_size_ / 2;

  Example ex;
  ex.input.assign(L, 0);
  ex.target.assign(L, IGNORE);
  ex.meta["seq_len"] = L;
  ex.meta["num_kv_pairs"] = K;

  // keys from [1, V/2) (0 stays the filler), values from [V/2, V), each without replacement
  const std::vector<int64_t> keys = draw_distinct(rng, half - 1, K, taken);
  const std::vector<int64_t> values = draw_distinct(rng, vocab_size_ - half, K, taken);
  for (int64_t j = 0; j < K; ++j) {
    ex.input[2 * j] = static_cast<int32_t>(keys[j] + 1);
    ex.input[2 * j + 1] = static_cast<int32_t>(values[j] + half);
  }

  // query j goes to the even offset 2·slot_j of the query region
  const std::vector<int64_t> slots = draw_slots(rng, cdf, K, taken);
  for (int64_t j = 0; j < K; ++j) {
    const int64_t pos = context_len + 2 * slots[j];
    ex.input[pos] = static_cast<int32_t>(keys[j] + 1);
    // Zoology labels row position pos+1 and then drops the first label: the label lands on the key
    ex.target[pos] = static_cast<int32_t>(values[j] + half);
  }

  if (random_non_queries_)
    for (int64_t p = 0; p < L; ++p)
      if (ex.input[p] == 0) ex.input[p] = static_cast<int32_t>(rng.below(static_cast<uint64_t>(vocab_size_)));
  return ex;
}

std::vector<Example> MqarTask::generate(Split split, uint64_t seed, int64_t first, int64_t count) const {
  const auto& segs = segments(split);
  if (first < 0 || count < 0 || first + count > split_size(split))
    throw std::out_of_range(fmt::format("mqar: examples [{}, {}) outside the {} split of {}", first, first + count,
                                        split_name(split), split_size(split)));
  // the split's name is part of each segment's label, so train and test streams differ even when a
  // caller passes one seed for both
  std::vector<uint64_t> segment_seeds;
  for (size_t s = 0; s < segs.size(); ++s)
    segment_seeds.push_back(derive_seed(seed, fmt::format("mqar/{}/segment{}", split_name(split), s)));

  std::vector<std::vector<double>> cdfs;
  int64_t scratch = vocab_size_;
  for (const auto& seg : segs) {
    cdfs.push_back(slot_cdf(power_a_, (seg.seq_len - 2 * seg.num_kv_pairs) / 2));
    scratch = std::max(scratch, seg.seq_len);
  }
  std::vector<uint8_t> taken(scratch, 0);

  std::vector<Example> out;
  out.reserve(count);
  size_t s = 0;
  int64_t segment_start = 0;
  for (int64_t i = first; i < first + count; ++i) {
    while (i >= segment_start + segs[s].count) segment_start += segs[s++].count;
    out.push_back(make_example(segs[s], cdfs[s], example_stream_seed(segment_seeds[s], i - segment_start), taken));
  }
  return out;
}

std::string MqarTask::describe(const Example& ex) const {
  auto it = ex.meta.find("num_kv_pairs");
  if (it == ex.meta.end()) return Task::describe(ex);
  const int64_t K = it->second;
  std::string out = fmt::format("mqar: {} key-value pairs, {} tokens\ncontext:", K, ex.input.size());
  for (int64_t j = 0; j < K && 2 * j + 1 < static_cast<int64_t>(ex.input.size()); ++j)
    out += fmt::format(" {}->{}", ex.input[2 * j], ex.input[2 * j + 1]);
  out += "\nqueries (position: key -> expected value):";
  for (size_t p = 0; p < ex.target.size(); ++p)
    if (ex.target[p] != IGNORE) out += fmt::format("\n  {}: {} -> {}", p, ex.input[p], ex.target[p]);
  return out + "\n" + Task::describe(ex);
}

extern const TaskEntry mqar_task_entry{
    "mqar",
    "multi-query associative recall (Zoology): recall K values at their query keys",
    {
        {"vocab_size",
         int64_t{8192},
         "vocabulary V: keys from [1, V/2), values from [V/2, V); must exceed seq_len",
         {}},
        {"seq_len", int64_t{256}, "input length L (even) of the single segment", {}},
        {"num_kv_pairs", int64_t{16}, "key-value pairs K of the single segment; 4K <= seq_len", {}},
        {"power_a", 0.01, "power-law exponent a: query slot i (1-based) has weight a*i^(a-1)", {}},
        {"random_non_queries", false, "replace filler token 0 by uniform draws from [0, V)", {}},
        {"train_examples", int64_t{100000}, "training examples of the single segment", {}},
        {"test_examples", int64_t{3000}, "test examples of the single segment", {}},
        {"train_segments",
         std::vector<double>{},
         "training mixture as flat (seq_len, num_kv_pairs, count) triples; empty = the single segment",
         {}},
        {"test_segments",
         std::vector<double>{},
         "test mixture as flat (seq_len, num_kv_pairs, count) triples; empty = the single segment",
         {}},
    },
    [](const Options& o) -> std::unique_ptr<Task> { return std::make_unique<MqarTask>(o); },
};

}  // namespace db
