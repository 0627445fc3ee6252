// folder_lock.cpp: flock-based writer lock of a results folder (see folder_lock.h).
#include "harness/sweep/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <stdexcept>

#include "common/atomic_file.h"

namespace db {

namespace fs = std::filesystem;

namespace {

// an open descriptor locked with `operation` (LOCK_SH or LOCK_EX), or -1 when another holder has it
int lock_file(const fs::path& path, int operation) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  if (::flock(fd, operation | LOCK_NB) == 0) return fd;
  const int err = errno;
  ::close(fd);
  if (err == EWOULDBLOCK) return -1;
  throw std::runtime_error(fmt::format("cannot lock {}: {}", path.string(), std::strerror(err)));
}

std::string holder_of(const fs::path& folder) {
  try {
    const std::string text = read_text_file(folder / ".writer");
    return text.empty() ? "another deltabench run" : text;
  } catch (const std::exception&) {
    return "another deltabench run";
  }
}

}  // namespace

ResultsFolderLock::ResultsFolderLock(const fs::path& folder, const Shard& shard) {
  fs::create_directories(folder);
  const bool sharded = shard.count > 1;
  folder_fd_ = lock_file(folder / ".writer.lock", sharded ? LOCK_SH : LOCK_EX);
  if (folder_fd_ >= 0 && sharded) {
    shard_fd_ = lock_file(folder / fmt::format(".shard-{}-of-{}.lock", shard.index + 1, shard.count), LOCK_EX);
    if (shard_fd_ < 0) ::close(folder_fd_), folder_fd_ = -1;
  }
  if (folder_fd_ < 0)
    throw std::runtime_error(fmt::format(
        "{} is being written by {}; one sweep writes a results folder at a time (shards of one split may "
        "share it): wait for it to finish, or use another --out",
        folder.string(), holder_of(folder)));
  char host[256] = "unknown host";
  ::gethostname(host, sizeof host - 1);
  write_file_atomically(folder / ".writer",
                        fmt::format("deltabench run (pid {} on {}{}, since {:%Y-%m-%d %H:%M:%S} UTC)", ::getpid(), host,
                                    sharded ? ", shard " + shard.describe() : "",
                                    fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()))));
}

ResultsFolderLock::~ResultsFolderLock() {
  if (shard_fd_ >= 0) ::close(shard_fd_);
  if (folder_fd_ >= 0) ::close(folder_fd_);
}

}  // namespace db
