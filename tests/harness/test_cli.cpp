// test_cli.cpp: the deltabench binary end to end: exit codes (0 ok, 2 bad input), errors naming
// file:line and key on stderr, --dry-run listing, list, table and sample. Uses the real task and
// mixer registries, so run tests skip when no mixer is registered yet.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "common/atomic_file.h"
#include "harness_test_support.h"
#include "models/core/registry.h"
#include "tasks/task.h"

namespace db {
namespace {

using test::CliResult;
using test::has;
using test::run_deltabench;

TEST(Cli, VersionHelpAndBadSubcommand) {
  test::TempDir tmp;
  const CliResult v = run_deltabench("--version", tmp.path);
  EXPECT_EQ(v.code, 0);
  EXPECT_TRUE(has(v.out, std::string("deltabench ") + DELTABENCH_VERSION)) << v.out;
  const CliResult h = run_deltabench("--help", tmp.path);
  EXPECT_EQ(h.code, 0);
  for (const char* sub : {"run", "table", "list", "sample", "eval", "forward"}) EXPECT_TRUE(has(h.out, sub)) << sub;
  const CliResult rh = run_deltabench("run --help", tmp.path);
  EXPECT_EQ(rh.code, 0);
  EXPECT_TRUE(has(rh.out, "--shard")) << rh.out;
  EXPECT_EQ(run_deltabench("frobnicate", tmp.path).code, 2);
  EXPECT_EQ(run_deltabench("run", tmp.path).code, 2);  // missing file
}

TEST(Cli, ListPrintsEveryKeyAndMarkdown) {
  test::TempDir tmp;
  const CliResult r = run_deltabench("list", tmp.path);
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(has(r.out, "train.lr")) << r.out;
  EXPECT_TRUE(has(r.out, "model.d_model")) << r.out;
  for (const TaskEntry* t : task_registry()) EXPECT_TRUE(has(r.out, t->name + ": ")) << t->name;
  const CliResult md = run_deltabench("list --markdown", tmp.path);
  EXPECT_EQ(md.code, 0);
  EXPECT_TRUE(has(md.out, "| key | default | description |")) << md.out;
  EXPECT_TRUE(has(md.out, "| `train.lr` | `0.001` |")) << md.out;
}

TEST(Cli, BadExperimentExitsTwoNamingFileLineAndKey) {
  test::TempDir tmp;
  std::ofstream(tmp.path / "bad.yaml") << "name: bad\ntask:\n  name: mqar\n  seq_len: long\nmodel: {d_model: 8}\n";
  const CliResult r = run_deltabench("run bad.yaml --dry-run", tmp.path);
  EXPECT_EQ(r.code, 2);
  if (find_task("mqar")) {
    EXPECT_TRUE(has(r.err, "bad.yaml:4: task.seq_len: must be an int, got string 'long'")) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(tmp.path / "results"));

  std::ofstream(tmp.path / "typo.yaml") << "name: typo\ntask: {name: mqar}\ntrian: {lr: 1}\n";
  const CliResult t = run_deltabench("run typo.yaml", tmp.path);
  EXPECT_EQ(t.code, 2);
  EXPECT_TRUE(has(t.err, "typo.yaml:3: trian: unknown key (did you mean 'train'?)")) << t.err;
}

TEST(Cli, DryRunListsTheExpandedRuns) {
  if (mixer_registry().empty() || !find_task("mqar")) GTEST_SKIP() << "needs the mqar task and a registered mixer";
  test::TempDir tmp;
  const std::string mixer = mixer_registry().front()->name;
  std::ofstream(tmp.path / "exp.yaml") << "name: exp\n"
                                          "task: {name: mqar, seq_len: 64, num_kv_pairs: 4, vocab_size: 256}\n"
                                          "model: {d_model: 16, mixer: {name: " << mixer << "}}\n"
                                          "train: {epochs: 1, batch_size: 8}\n"
                                          "seeds: [1, 2]\n"
                                          "sweep: {grid: {train.lr: [1e-3, 1e-2]}}\n"
                                          "profiles: {quick: {set: {train.epochs: 1}}}\n";
  const CliResult r = run_deltabench("run exp.yaml --dry-run --profile quick", tmp.path);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "4 runs")) << r.out;
  EXPECT_TRUE(has(r.out, mixer + "-lr0.001-s1-")) << r.out;
  EXPECT_FALSE(std::filesystem::exists(tmp.path / "results"));

  const CliResult shard = run_deltabench("run exp.yaml --dry-run --shard 1/3", tmp.path);
  EXPECT_EQ(shard.code, 0) << shard.err;
  EXPECT_TRUE(has(shard.out, "4 runs, 1 in shard 1/3")) << shard.out;

  const CliResult slurm = run_deltabench("run exp.yaml --dry-run", tmp.path);  // no Slurm variables: all runs
  EXPECT_TRUE(has(slurm.out, "4 runs\n")) << slurm.out;
  const CliResult set = run_deltabench("run exp.yaml --dry-run --set train.lr=nope", tmp.path);
  EXPECT_EQ(set.code, 2);
  EXPECT_TRUE(has(set.err, "--set train.lr=nope: train.lr: must be a float")) << set.err;
  const CliResult profile = run_deltabench("run exp.yaml --dry-run --profile quik", tmp.path);
  EXPECT_EQ(profile.code, 2);
  EXPECT_TRUE(has(profile.err, "did you mean 'quick'?")) << profile.err;
}

TEST(Cli, TableWritesMarkdownAndCsv) {
  test::TempDir tmp;
  std::filesystem::create_directories(tmp.path / "res");
  write_file_atomically(tmp.path / "res" / "runs.csv",
                        "run_id,status,model.mixer.name,train.lr,score\na,done,x,0.1,0.5\nb,done,x,0.2,0.75\n");
  const CliResult r = run_deltabench("table res --rows model.mixer.name --best-over train.lr", tmp.path);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "| x | 75.0 |")) << r.out;
  EXPECT_TRUE(std::filesystem::exists(tmp.path / "res" / "table.md"));
  EXPECT_TRUE(std::filesystem::exists(tmp.path / "res" / "table.csv"));
  EXPECT_EQ(run_deltabench("table missing_folder --rows a", tmp.path).code, 2);
}

TEST(Cli, SampleValidatesTaskOptions) {
  if (!find_task("mqar")) GTEST_SKIP() << "needs the mqar task";
  test::TempDir tmp;
  const CliResult ok = run_deltabench("sample mqar --set seq_len=32 --set num_kv_pairs=2 --set vocab_size=64 -n 2 --format jsonl", tmp.path);
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_TRUE(has(ok.out, "\"input\"")) << ok.out;
  const CliResult bad = run_deltabench("sample mqar --set seq_len=abc", tmp.path);
  EXPECT_EQ(bad.code, 2);
  EXPECT_TRUE(has(bad.err, "--set seq_len=abc: task.seq_len")) << bad.err;
}

}  // namespace
}  // namespace db
