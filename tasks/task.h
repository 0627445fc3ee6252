// task.h: the contract between a benchmark generator and the trainer.
//
// A Task turns (its options, a split, a seed) into examples: input token ids, target token ids
// of the same length with IGNORE where no prediction is scored, and metadata the metrics group by
// (e.g. "num_kv_pairs", "length"). Generation is deterministic in (options, split, seed) on every
// machine because it draws only from db::Rng. Train and test seeds come from disjoint ranges
// (split_seed), so the two splits never share a stream.
//
// Training targets and test targets may differ (MAD recall tasks train on the full shifted
// sequence but score only the recalled values); the task decides per split.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/ignore_index.h"
#include "common/options.h"

namespace db {

enum class Split { train, test };
const char* split_name(Split s);

struct Example {
  std::vector<int32_t> input;            // [L] token ids in [0, vocab_size)
  std::vector<int32_t> target;           // [L] token ids, or IGNORE where nothing is scored
  std::map<std::string, int64_t> meta;   // per-example facts metrics group by ("length", "num_kv_pairs", ...)
};

// how a task's headline number is computed (see tasks/metrics.h)
enum class MetricKind {
  accuracy,         // micro accuracy over labelled positions (MQAR)
  macro_accuracy,   // per-target-class recall averaged over classes present (MAD)
  scaled_accuracy,  // (acc - r) / (1 - r), r the chance rate (parity, modular arithmetic)
  sequence_prefix,  // fraction of sequences all correct up to length l (word problems)
};

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  virtual int vocab_size() const = 0;
  // the longest input this task produces (batches are padded up to the longest in the batch)
  virtual int max_input_length() const = 0;
  // token used to right-pad inputs of short examples in a batch (its targets are IGNORE)
  virtual int32_t pad_token() const { return 0; }
  virtual MetricKind metric() const = 0;
  // chance rate r for scaled accuracy (0 when not used)
  virtual double chance_rate() const { return 0.0; }
  // number of examples in a split, as configured
  virtual int64_t split_size(Split split) const = 0;
  // true when training should draw fresh examples every epoch (state tracking: new samples every
  // step); false when one fixed training set is replayed (MQAR, MAD)
  virtual bool fresh_train_data() const { return false; }
  // examples [first, first + count) of a split drawn from `seed`; deterministic and independent of
  // how the range is cut into calls
  virtual std::vector<Example> generate(Split split, uint64_t seed, int64_t first, int64_t count) const = 0;
  // readable rendering of one example for `deltabench sample` (decoded keys/values, expressions...)
  virtual std::string describe(const Example& ex) const;
  // metadata keys whose values the metrics report accuracy for separately ("accuracy/<key>=<value>"),
  // e.g. MQAR's mixture segments; only keys that vary across the evaluated set produce slices
  virtual std::vector<std::string> slice_keys() const { return {}; }
};

struct TaskEntry {
  std::string name;         // YAML value of task.name
  std::string description;  // one line for `deltabench list`
  OptionSpecs options;      // the task's keys (task.<key>)
  // throws ConfigError naming the key when a value is invalid (e.g. 4*num_kv_pairs > seq_len)
  std::function<std::unique_ptr<Task>(const Options&)> create;
  // non-empty: the only model.backbone under which the task means anything (MAD compression's target
  // is its own input, unshifted: under the lm backbone every position would copy its own token)
  std::string required_backbone = {};
};

// Throws ConfigError naming the split's size key (train_examples / test_examples) when `examples`
// examples of the task (an input and a target of up to max_input_length tokens each) would need more
// memory than the machine has: refused when the config is read, not after minutes of generating.
void check_examples_fit_in_memory(const Task& task, Split split, int64_t examples);

const std::vector<const TaskEntry*>& task_registry();
const TaskEntry* find_task(const std::string& name);
// resolve overrides against the task's specs and construct it (ConfigError on bad input)
std::unique_ptr<Task> create_task(const std::string& name, const std::map<std::string, OptionValue>& overrides);

// seeds for the two splits, from disjoint ranges: train in [0, 2^63), test in [2^63, 2^64)
uint64_t split_seed(uint64_t base_seed, Split split);

}  // namespace db
