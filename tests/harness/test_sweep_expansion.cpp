// test_sweep_expansion.cpp: how an experiment becomes runs: counts and order of grid x zip x changes
// x seeds, profiles and --set precedence, mixers as sweep values, and the identity of a run (hash
// stable under formatting, sensitive to every value; readable, safe slugs).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "harness/config/experiment_file.h"
#include "harness/config/resolver.h"
#include "harness/sweep/expansion.h"
#include "harness_test_support.h"

namespace db {
namespace {

using test::fake_catalog;

Expansion expand(const std::string& text, const ExpandOptions& options = {}) {
  return expand_experiment(parse_experiment(text, "x.yaml"), options, fake_catalog());
}

std::string flat(const ResolvedConfig& c, const std::string& key) {
  for (const auto& [k, v] : c.flat)
    if (k == key) return v;
  return "<absent>";
}

const char* kFull = R"(name: full
task: {name: recall, seq_len: 64, num_kv_pairs: 4, vocab_size: 128}
model: {d_model: 32, mixer: {name: deltanet, num_heads: 2}}
train: {lr: 1e-3, epochs: 2}
seeds: [7, 8]
sweep:
  grid: {model.d_model: [32, 64], train.lr: [1e-3, 1e-2]}
  zip: [{task.seq_len: [64, 128, 256], task.num_kv_pairs: [4, 8, 16]}]
  changes: [{task.vocab_size: 32}, {model.mixer.num_heads: 4}]
)";

TEST(SweepExpansion, CountIsChangesTimesGridTimesZipTimesSeeds) {
  const Expansion e = expand(kFull);
  // (1 baseline + 2 changes) x (2 x 2 grid) x 3 zipped values x 2 seeds
  EXPECT_EQ(e.runs.size(), 3u * 4u * 3u * 2u);
  std::set<std::string> hashes;
  for (const auto& r : e.runs) hashes.insert(r.hash);
  EXPECT_EQ(hashes.size(), e.runs.size());
  EXPECT_EQ(e.duplicates_dropped, 0u);
}

TEST(SweepExpansion, OrderIsChangesThenGridThenZipThenSeeds) {
  const Expansion e = expand(kFull);
  using Row = std::tuple<std::string, std::string, std::string, std::string, std::string, std::string, std::string>;
  std::vector<Row> expected;
  const std::vector<std::pair<std::string, std::string>> changes = {{"128", "2"}, {"32", "2"}, {"128", "4"}};
  const std::vector<std::pair<std::string, std::string>> zipped = {{"64", "4"}, {"128", "8"}, {"256", "16"}};
  for (const auto& [vocab, heads] : changes)
    for (const char* d : {"32", "64"})
      for (const char* lr : {"0.001", "0.01"})
        for (const auto& [len, pairs] : zipped)
          for (const char* seed : {"7", "8"}) expected.emplace_back(vocab, heads, d, lr, len, pairs, seed);
  ASSERT_EQ(e.runs.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& r = e.runs[i];
    EXPECT_EQ(Row(flat(r, "task.vocab_size"), flat(r, "model.mixer.num_heads"), flat(r, "model.d_model"),
                  flat(r, "train.lr"), flat(r, "task.seq_len"), flat(r, "task.num_kv_pairs"), flat(r, "seed")),
              expected[i])
        << "run " << i;
  }
}

TEST(SweepExpansion, ExpansionIsDeterministic) {
  const Expansion a = expand(kFull), b = expand(kFull);
  ASSERT_EQ(a.runs.size(), b.runs.size());
  for (size_t i = 0; i < a.runs.size(); ++i) {
    EXPECT_EQ(a.runs[i].hash, b.runs[i].hash);
    EXPECT_EQ(a.runs[i].slug, b.runs[i].slug);
  }
}

TEST(SweepExpansion, ChangesVaryOneFactorFromTheBaseline) {
  const Expansion e = expand(R"(task: {name: recall, seq_len: 64, vocab_size: 128}
model: {mixer: deltanet}
train: {epochs: 1}
sweep:
  changes:
    - {task.vocab_size: 32}
    - {task.seq_len: 128}
    - {task.seq_len: 64}
)");
  // the last change restates the baseline and is dropped as a duplicate
  ASSERT_EQ(e.runs.size(), 3u);
  EXPECT_EQ(e.duplicates_dropped, 1u);
  EXPECT_EQ(flat(e.runs[0], "task.vocab_size") + "/" + flat(e.runs[0], "task.seq_len"), "128/64");
  EXPECT_EQ(flat(e.runs[1], "task.vocab_size") + "/" + flat(e.runs[1], "task.seq_len"), "32/64");
  EXPECT_EQ(flat(e.runs[2], "task.vocab_size") + "/" + flat(e.runs[2], "task.seq_len"), "128/128");
}

TEST(SweepExpansion, MixersWithTheirOwnSettingsAreSweepValues) {
  const Expansion e = expand(R"(task: recall
model: {d_model: 32, mixer: {name: deltanet, num_heads: 2}}
train: {epochs: 1}
sweep:
  grid:
    model.mixer: [{name: deltanet, chunk_size: 16}, {name: softmax_attention, window: 8}]
)");
  ASSERT_EQ(e.runs.size(), 2u);
  // a map value replaces the whole mixer: num_heads: 2 from the base does not leak into either
  EXPECT_EQ(e.runs[0].mixers.at(0).name, "deltanet");
  EXPECT_EQ(flat(e.runs[0], "model.mixer.chunk_size"), "16");
  EXPECT_EQ(flat(e.runs[0], "model.mixer.num_heads"), "1");
  EXPECT_EQ(e.runs[1].mixers.at(0).name, "softmax_attention");
  EXPECT_EQ(flat(e.runs[1], "model.mixer.window"), "8");
  EXPECT_EQ(flat(e.runs[1], "model.mixer.chunk_size"), "<absent>");
  EXPECT_EQ(e.runs[0].slug.rfind("deltanet-", 0), 0u) << e.runs[0].slug;
  EXPECT_EQ(e.runs[1].slug.rfind("softmax_attention-", 0), 0u) << e.runs[1].slug;
}

TEST(SweepExpansion, HybridMixerListsFlattenWithIndices) {
  const Expansion e = expand(R"(task: recall
model:
  mixers: [{name: deltanet, num_heads: 2}, {name: softmax_attention, window: 16}]
train: {epochs: 1}
)");
  ASSERT_EQ(e.runs.size(), 1u);
  const auto& r = e.runs[0];
  ASSERT_EQ(r.mixers.size(), 2u);
  EXPECT_EQ(flat(r, "model.mixers.0.name"), "deltanet");
  EXPECT_EQ(flat(r, "model.mixers.0.num_heads"), "2");
  EXPECT_EQ(flat(r, "model.mixers.1.name"), "softmax_attention");
  EXPECT_EQ(flat(r, "model.mixers.1.window"), "16");
  EXPECT_NE(r.yaml.find("  mixers:\n    - name: deltanet\n"), std::string::npos) << r.yaml;
  EXPECT_EQ(r.slug, "deltanet+softmax_attention-s0");
}

const char* kProfiles = R"(name: p
task: recall
model: {d_model: 32, mixer: deltanet}
train: {lr: 1e-3, epochs: 8}
seeds: [1, 2, 3]
sweep:
  grid: {model.d_model: [32, 64, 128], train.lr: [1e-3, 1e-2]}
profiles:
  quick:
    set: {train.epochs: 2, train.lr: 0.5}
    sweep: {grid: {model.d_model: [16]}}
    seeds: [9]
  full: {}
)";

TEST(SweepProfiles, ProfileSetsSweepAxesAndSeedsReplaceTheFiles) {
  EXPECT_EQ(expand(kProfiles).runs.size(), 3u * 2u * 3u);
  EXPECT_EQ(expand(kProfiles, {"full", {}}).runs.size(), 3u * 2u * 3u);
  const Expansion quick = expand(kProfiles, {"quick", {}});
  // d_model axis replaced by [16]; the lr axis stays (and beats the profile's lr: the sweep point
  // is applied after the profile's set); one seed
  ASSERT_EQ(quick.runs.size(), 2u);
  for (const auto& r : quick.runs) {
    EXPECT_EQ(flat(r, "model.d_model"), "16");
    EXPECT_EQ(flat(r, "train.epochs"), "2");
    EXPECT_EQ(r.seed, 9u);
  }
  EXPECT_EQ(flat(quick.runs[0], "train.lr"), "0.001");
  EXPECT_EQ(flat(quick.runs[1], "train.lr"), "0.01");
}

TEST(SweepProfiles, SetOverridesBeatFileProfileAndSweep) {
  // precedence: file < profile set < sweep point < --set
  const Expansion e = expand(kProfiles, {"quick", {"train.epochs=5", "train.lr=0.25", "seeds=[4, 5]"}});
  // --set pins the swept lr, so the two lr points collapse into one run per seed
  ASSERT_EQ(e.runs.size(), 2u);
  EXPECT_EQ(e.duplicates_dropped, 2u);
  for (const auto& r : e.runs) {
    EXPECT_EQ(flat(r, "train.epochs"), "5");
    EXPECT_EQ(flat(r, "train.lr"), "0.25");
  }
  EXPECT_EQ(e.runs[0].seed, 4u);
  EXPECT_EQ(e.runs[1].seed, 5u);
}

TEST(SweepProfiles, SetCanReplaceTheMixerWithAMap) {
  const Expansion e = expand("task: recall\nmodel: {mixer: {name: deltanet, chunk_size: 8}}\ntrain: {epochs: 1}\n",
                             {"", {"model.mixer={name: softmax_attention, window: 4}"}});
  ASSERT_EQ(e.runs.size(), 1u);
  EXPECT_EQ(e.runs[0].mixers.at(0).name, "softmax_attention");
  EXPECT_EQ(flat(e.runs[0], "model.mixer.window"), "4");
  EXPECT_EQ(flat(e.runs[0], "model.mixer.chunk_size"), "<absent>");
}

TEST(SweepProfiles, MergeSweepsReplacesSameNamedAxesAndZipGroups) {
  const Experiment ex = parse_experiment(R"(task: recall
sweep:
  grid: {train.lr: [1, 2], model.d_model: [8]}
  zip: [{task.seq_len: [1, 2], task.num_kv_pairs: [1, 2]}, {train.batch_size: [1]}]
profiles:
  p:
    sweep:
      grid: {train.lr: [3], train.weight_decay: [0]}
      zip: [{task.seq_len: [5, 6, 7], task.num_kv_pairs: [1, 1, 1]}]
      changes: [{train.epochs: 3}]
)", "x.yaml");
  const SweepSpec merged = merge_sweeps(ex.sweep, ex.profiles.at(0).sweep);
  ASSERT_EQ(merged.grid.size(), 3u);
  EXPECT_EQ(merged.grid[0].key, "train.lr");
  EXPECT_EQ(merged.grid[0].values.size(), 1u);
  EXPECT_EQ(merged.grid[1].key, "model.d_model");
  EXPECT_EQ(merged.grid[2].key, "train.weight_decay");
  ASSERT_EQ(merged.zip.size(), 2u);
  EXPECT_EQ(merged.zip[0].length(), 3u);
  EXPECT_EQ(merged.zip[1].axes.at(0).key, "train.batch_size");
  ASSERT_TRUE(merged.changes.has_value());
  EXPECT_EQ(merged.changes->size(), 1u);
}

TEST(SweepProfiles, AProfileMovesAKeyBetweenGridAndZip) {
  const Experiment ex = parse_experiment(R"(task: recall
model: {mixer: deltanet}
train: {epochs: 1}
sweep:
  grid: {train.lr: [1, 2, 3], model.d_model: [8, 16]}
  zip: [{task.seq_len: [64, 128], model.n_layers: [1, 2]}]
profiles:
  p:
    sweep:
      grid: {model.n_layers: [3]}
      zip: [{task.seq_len: [32, 64], train.lr: [4, 5]}]
)", "x.yaml");
  const SweepSpec merged = merge_sweeps(ex.sweep, ex.profiles.at(0).sweep);
  // train.lr left the grid for the profile's zip group; model.n_layers left the file's zip group,
  // which the profile's group (sharing task.seq_len) then replaced
  ASSERT_EQ(merged.grid.size(), 2u);
  EXPECT_EQ(merged.grid[0].key, "model.d_model");
  EXPECT_EQ(merged.grid[1].key, "model.n_layers");
  ASSERT_EQ(merged.zip.size(), 1u);
  ASSERT_EQ(merged.zip[0].axes.size(), 2u);
  EXPECT_EQ(merged.zip[0].axes[1].key, "train.lr");

  const Expansion e = expand_experiment(ex, {"p", {}}, fake_catalog());
  ASSERT_EQ(e.runs.size(), 4u);  // d_model 2 x zip 2, no copies from a stale lr axis
  EXPECT_EQ(e.duplicates_dropped, 0u);
  std::set<std::pair<std::string, std::string>> seq_lr;
  for (const auto& run : e.runs) {
    EXPECT_EQ(flat(run, "model.n_layers"), "3");
    seq_lr.insert({flat(run, "task.seq_len"), flat(run, "train.lr")});
  }
  EXPECT_EQ(seq_lr, (std::set<std::pair<std::string, std::string>>{{"32", "4.0"}, {"64", "5.0"}}));
}

TEST(SweepProfiles, AProfileGridAxisEmptiesAZipGroupItWasTheOnlyMemberOf) {
  const Experiment ex = parse_experiment(R"(task: recall
sweep:
  zip: [{train.lr: [1, 2]}, {task.seq_len: [64, 128]}]
profiles:
  p: {sweep: {grid: {train.lr: [3]}}}
)", "x.yaml");
  const SweepSpec merged = merge_sweeps(ex.sweep, ex.profiles.at(0).sweep);
  ASSERT_EQ(merged.zip.size(), 1u);
  EXPECT_EQ(merged.zip[0].axes.at(0).key, "task.seq_len");
  ASSERT_EQ(merged.grid.size(), 1u);
  EXPECT_EQ(merged.grid[0].values.size(), 1u);
}

TEST(RunIdentity, HashIgnoresFormattingKeyOrderAndDefaultsWrittenOut) {
  const std::string a = "task: {name: recall, seq_len: 64}\nmodel: {mixer: deltanet}\ntrain: {lr: 1e-3, epochs: 2}\nseed: 5\n";
  const std::string b =
      "seeds: [5]\ntrain:\n  epochs: 2\n  lr: 0.0010\nmodel:\n  mixer:\n    name: deltanet\n    num_heads: 1\n"
      "task:\n  seq_len: 64\n  name: recall\n  vocab_size: 128\n";
  EXPECT_EQ(expand(a).runs.at(0).hash, expand(b).runs.at(0).hash);
  EXPECT_EQ(expand(a).runs.at(0).hash.size(), 12u);
  EXPECT_EQ(expand(a).runs.at(0).hash.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(RunIdentity, HashChangesWithEveryValue) {
  const std::string base = "task: {name: recall, seq_len: 64}\nmodel: {mixer: deltanet}\ntrain: {lr: 1e-3, epochs: 2}\n";
  const std::string h0 = expand(base).runs.at(0).hash;
  std::set<std::string> hashes{h0};
  for (const char* set : {"train.lr=0.002", "seed=1", "task.seq_len=128", "model.mixer.num_heads=2", "model.d_model=64",
                          "train.epochs=3", "model.mixer=softmax_attention", "train.betas=[0.9, 0.99]"})
    EXPECT_TRUE(hashes.insert(expand(base, {"", {set}}).runs.at(0).hash).second) << set;
}

TEST(RunIdentity, ConfigYamlReadsBackToTheSameRun) {
  const Expansion e = expand(kFull);
  for (size_t i = 0; i < e.runs.size(); i += 7) {
    const Expansion again = expand(e.runs[i].yaml);
    ASSERT_EQ(again.runs.size(), 1u);
    EXPECT_EQ(again.runs[0].hash, e.runs[i].hash) << e.runs[i].yaml;
    EXPECT_EQ(again.runs[0].flat, e.runs[i].flat);
  }
}

TEST(RunIdentity, SlugNamesTheSweptValuesAndIsFilesystemSafe) {
  const Expansion e = expand(R"(task: recall
model: {mixer: deltanet}
train: {epochs: 1}
seeds: [123]
sweep:
  grid: {model.d_model: [64, 128], train.lr: [1e-3, 1e-2], train.betas: [[0.9, 0.95]]}
)");
  ASSERT_EQ(e.runs.size(), 4u);
  EXPECT_EQ(e.runs[0].slug, "deltanet-d_model64-lr0.001-s123");
  EXPECT_EQ(e.runs[3].slug, "deltanet-d_model128-lr0.01-s123");
  EXPECT_EQ(e.varying_keys, (std::vector<std::string>{"model.d_model", "train.lr"}));

  ResolvedConfig weird = e.runs[0];
  weird.flat.emplace_back("task.path", "a/b c:d*" + std::string(200, 'x'));
  const std::string slug = make_slug(weird, {"task.path"});
  EXPECT_LE(slug.size(), 80u);
  EXPECT_EQ(slug.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+=-"), std::string::npos)
      << slug;
}

TEST(RunIdentity, ResolvedConfigFillsDefaultsAndCarriesTheExperimentName) {
  const Expansion e = expand(kFull);
  const auto& r = e.runs.at(0);
  EXPECT_EQ(r.experiment, "full");
  EXPECT_EQ(r.task_name, "recall");
  EXPECT_TRUE(r.train.has("weight_decay"));
  EXPECT_TRUE(r.model.has("n_layers"));
  EXPECT_EQ(flat(r, "seed"), "7");
  EXPECT_TRUE(std::is_sorted(r.flat.begin(), r.flat.end()));
  EXPECT_EQ(config_hash(canonical_yaml(r)), r.hash);
}

}  // namespace
}  // namespace db
