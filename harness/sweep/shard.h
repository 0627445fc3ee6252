// shard.h: which slice of a sweep this process runs.
//
// Run k of the full deterministic expansion belongs to shard k % count, so shards are disjoint,
// cover the sweep together and need no coordination. `--shard i/n` is 0-based. Without it, a
// Slurm job array supplies the slice: SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN (so arrays
// numbered from 1 work too) out of SLURM_ARRAY_TASK_COUNT.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>

namespace db {

struct Shard {
  size_t index = 0;
  size_t count = 1;
  bool owns(size_t run_index) const { return run_index % count == index; }
  std::string describe() const;  // "3/16"
};

// "i/n" -> Shard; throws ExperimentError naming `--shard` for anything else
Shard parse_shard(const std::string& text);
// the shard from Slurm array variables, or nullopt when they are absent; `env` maps variable names
// to values (tests pass their own; the program passes the process environment)
std::optional<Shard> shard_from_slurm(const std::map<std::string, std::string>& env);
// the Slurm variables of this process
std::map<std::string, std::string> slurm_environment();
// --shard when given, else Slurm, else the whole sweep
Shard choose_shard(const std::string& shard_flag, const std::map<std::string, std::string>& env);

}  // namespace db
