// tiny_run.h: the tiny MQAR experiment that the trainer and inference tests train for real.
//
// 256 training examples at batch 32 (8 steps per epoch, 2 epochs), width 16, one DeltaNet layer, one
// thread: a complete run takes well under a second, so properties are checked on real runs.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness/config/component_catalog.h"
#include "harness/config/experiment_file.h"
#include "harness/sweep/expansion.h"

namespace db::test {

constexpr const char* kTinyExperiment = R"(name: tiny
task: {name: mqar, vocab_size: 64, seq_len: 16, num_kv_pairs: 2, train_examples: 256, test_examples: 64}
model: {d_model: 16, n_layers: 1, mlp: none, mixer: {name: deltanet, num_heads: 2}}
train: {epochs: 2, batch_size: 32, lr: 3e-3, threads: 1}
seeds: [7]
)";

// the tiny run with --set style overrides (e.g. "train.checkpoint_interval=3")
inline ResolvedConfig tiny_config(const std::vector<std::string>& sets = {}) {
  const Experiment ex = parse_experiment(kTinyExperiment, "tiny.yaml");
  const Expansion e = expand_experiment(ex, {"", sets}, registry_catalog());
  EXPECT_EQ(e.runs.size(), 1u);
  return e.runs.at(0);
}

}  // namespace db::test
