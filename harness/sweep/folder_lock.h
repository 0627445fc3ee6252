// folder_lock.h: one writer per results folder.
//
// Two sweeps writing one folder would resume each other's checkpoints and race on every file. A
// sweep therefore holds an advisory lock (flock) on <folder>/.writer.lock while it runs; the kernel
// drops it when the process ends, however it ends, so a crash never leaves a stale lock. Shards of
// one split are meant to share a folder (their runs are disjoint): a shard i/n holds the folder lock
// shared and <folder>/.shard-i-of-n.lock exclusively, so shards of a split run side by side while a
// second copy of the same shard, or an unsharded sweep, is refused. The holder writes who it is
// (pid, host, shard, start time) to <folder>/.writer, which the refusal quotes.
#pragma once

#include <filesystem>

#include "harness/sweep/shard.h"

namespace db {

class ResultsFolderLock {
 public:
  // takes the folder (creating it) for `shard`; throws std::runtime_error naming the folder and
  // the holder when another sweep has it
  ResultsFolderLock(const std::filesystem::path& folder, const Shard& shard);
  ~ResultsFolderLock();
  ResultsFolderLock(const ResultsFolderLock&) = delete;
  ResultsFolderLock& operator=(const ResultsFolderLock&) = delete;

 private:
  int folder_fd_ = -1;
  int shard_fd_ = -1;
};

}  // namespace db
