// atomic_file.cpp: temp file + fsync + rename (see atomic_file.h).
#include "common/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace db {

void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  write_file_atomically(path, std::span<const std::string_view>(&content, 1));
}

void write_file_atomically(const std::filesystem::path& path, std::span<const std::string_view> parts) {
  static std::atomic<uint64_t> counter{0};
  // unique across processes (pid), threads and calls, so concurrent writers never share a temp file
  const std::filesystem::path tmp =
      path.string() + fmt::format(".tmp.{}.{}.{}", static_cast<long>(::getpid()),
                                  std::hash<std::thread::id>{}(std::this_thread::get_id()) % 1000000, counter++);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno)));
  for (const std::string_view content : parts) {
    size_t written = 0;
    while (written < content.size()) {
      const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        throw std::runtime_error(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(err)));
      }
      written += static_cast<size_t>(n);
    }
  }
  // the data must be on disk before the rename makes it visible, or a crash could expose an empty file
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw std::runtime_error(fmt::format("cannot flush {}: {}", tmp.string(), std::strerror(errno)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error(fmt::format("cannot rename {} to {}: {}", tmp.string(), path.string(), std::strerror(err)));
  }
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace db
