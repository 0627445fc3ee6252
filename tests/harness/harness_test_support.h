// harness_test_support.h: shared fixtures of the harness tests: a fake component catalog (so config
// handling is tested independently of the real tasks and mixers), a small sweep over it, a temporary
// folder, and an assertion that an ExperimentError names the expected location, key and message.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/atomic_file.h"
#include "harness/config/component_catalog.h"
#include "harness/config/experiment_error.h"
#include "harness/config/experiment_file.h"
#include "harness/sweep/expansion.h"

namespace db::test {

// task "recall" (seq_len, num_kv_pairs, vocab_size; 4*num_kv_pairs <= seq_len), task "compression"
// (needs the autoencoder backbone) and mixers "deltanet" (num_heads, chunk_size) and
// "softmax_attention" (num_heads, window); the tasks validate and build nothing
inline ComponentCatalog fake_catalog() {
  auto task = [](std::string name, OptionSpecs options, std::function<void(const Options&)> check,
                 std::string backbone) {
    TaskEntry e;
    e.name = std::move(name);
    e.options = std::move(options);
    e.create = [check](const Options& o) -> std::unique_ptr<Task> {
      if (check) check(o);
      return nullptr;
    };
    e.required_backbone = std::move(backbone);
    return e;
  };
  auto mixer = [](std::string name, OptionSpecs options) {
    MixerEntry e;
    e.name = std::move(name);
    e.options = std::move(options);
    return e;
  };
  static const TaskEntry recall = task("recall",
                                       {{"seq_len", int64_t{64}, "length"}, {"num_kv_pairs", int64_t{4}, "pairs"},
                                        {"vocab_size", int64_t{128}, "vocabulary"}},
                                       [](const Options& o) {
                                         if (4 * o.get_int("num_kv_pairs") > o.get_int("seq_len"))
                                           throw ConfigError("num_kv_pairs", "4 * num_kv_pairs must not exceed seq_len");
                                       },
                                       "");
  static const TaskEntry compression = task("compression", {{"seq_len", int64_t{32}, "length"}}, nullptr, "autoencoder");
  static const MixerEntry deltanet =
      mixer("deltanet", {{"num_heads", int64_t{1}, "heads"}, {"chunk_size", int64_t{64}, "chunk"}});
  static const MixerEntry softmax =
      mixer("softmax_attention", {{"num_heads", int64_t{1}, "heads"}, {"window", int64_t{0}, "window"}});
  return {{&recall, &compression}, {&deltanet, &softmax}};
}

// 12 runs over the fake catalog (3 widths x 2 lr x 2 seeds), in expansion order; the sweep runner's tests
// and the GPU job slots' run them with fake trainers
inline std::vector<ResolvedConfig> twelve_run_sweep() {
  const Experiment ex = parse_experiment(R"(name: runner
task: recall
model: {mixer: deltanet}
train: {epochs: 1}
seeds: [1, 2]
sweep:
  grid: {model.d_model: [16, 32, 64], train.lr: [1e-3, 1e-2]}
)", "runner.yaml");
  return expand_experiment(ex, {}, fake_catalog()).runs;
}

// a fresh folder under the system temp dir, removed at scope exit
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("deltabench_test_" + std::to_string(rd()) + "_" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// run `f`, expect an ExperimentError whose location text, key and message contain the given parts
inline void expect_experiment_error(const std::function<void()>& f, const std::string& location,
                                    const std::string& key, const std::string& message_part) {
  try {
    f();
    ADD_FAILURE() << "expected an ExperimentError at " << location << " for " << key;
  } catch (const ExperimentError& e) {
    EXPECT_EQ(e.origin().describe(), location) << e.what();
    EXPECT_EQ(e.key(), key) << e.what();
    EXPECT_NE(e.message().find(message_part), std::string::npos) << e.what();
    // the printed form is "location: key: message"
    const std::string prefix = location + ": " + (key.empty() ? "" : key + ": ");
    EXPECT_EQ(std::string(e.what()).rfind(prefix, 0), 0u) << e.what();
  }
}

#ifdef DELTABENCH_BINARY
struct CliResult {
  int code = -1;
  std::string out, err;
};

// run the deltabench binary with `args` (shell words) in `workdir`, one OpenMP thread so results do
// not depend on the machine; stdout and stderr are captured separately
inline CliResult run_deltabench(const std::string& args, const std::filesystem::path& workdir) {
  const std::filesystem::path err_file = workdir / "stderr.txt";
  const std::string cmd = "cd '" + workdir.string() + "' && OMP_NUM_THREADS=1 '" + DELTABENCH_BINARY + "' " + args +
                          " 2>'" + err_file.string() + "'";
  CliResult r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_text_file(err_file);
  return r;
}
#endif

inline bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace db::test
