// mqar.h: Multi-Query Associative Recall, the Zoology generator (task-protocols.md section A.1,
// after HazyResearch/zoology zoology/data/multiquery_ar.py).
//
// An input of length L starts with K key-value pairs "k1 v1 ... kK vK" (keys distinct from [1, V/2),
// values distinct from [V/2, V)); each key is then queried once at an even slot of the remaining
// L - 2K positions, slots drawn without replacement with a power law that favours early slots. The
// label sits at the query key's own position (the model emits the value while reading the key), and
// every other position is IGNORE. Filler positions hold token 0, or uniform draws from [0, V) when
// random_non_queries is on (Zoology's A.5b mixture), which can collide with real keys on purpose.
//
// A split is a list of segments (seq_len, num_kv_pairs, count), as Zoology's multi-length configs
// mix lengths; each segment draws from its own seed derived from the split seed, and examples are
// generated one stream per example, so any range of a split can be produced independently.
#pragma once

#include <cstdint>
#include <vector>

#include "tasks/task.h"

namespace db {

struct MqarSegment {
  int64_t seq_len;       // input length L (even)
  int64_t num_kv_pairs;  // K, with 4K <= L
  int64_t count;         // examples in this segment
};

class MqarTask : public Task {
 public:
  explicit MqarTask(const Options& options);

  std::string name() const override { return "mqar"; }
  int vocab_size() const override { return static_cast<int>(vocab_size_); }
  int max_input_length() const override;
  MetricKind metric() const override { return MetricKind::accuracy; }
  int64_t split_size(Split split) const override;
  std::vector<Example> generate(Split split, uint64_t seed, int64_t first, int64_t count) const override;
  // "context: k->v ..." then each query with the value it expects
  std::string describe(const Example& ex) const override;
  std::vector<std::string> slice_keys() const override { return {"seq_len", "num_kv_pairs"}; }

  const std::vector<MqarSegment>& segments(Split split) const {
    return split == Split::train ? train_segments_ : test_segments_;
  }

 private:
  // one example from its own stream; `slot_cdf` is the segment's cumulative query-slot law and
  // `taken` zeroed scratch of at least max(vocab_size, seq_len) entries
  Example make_example(const MqarSegment& segment, const std::vector<double>& slot_cdf, uint64_t example_seed,
                       std::vector<uint8_t>& taken) const;

  int64_t vocab_size_;
  double power_a_;
  bool random_non_queries_;
  std::vector<MqarSegment> train_segments_;
  std::vector<MqarSegment> test_segments_;
};


}  // namespace db
