// atomic_file.h: whole-file writes that readers and crashes never see half done.
//
// A result file's presence means "this run finished", and runs.csv may be rebuilt by several shards
// at once, so both are written to a unique temporary file in the same folder, flushed to disk and
// renamed over the target (rename is atomic on POSIX file systems). A kill at any moment leaves
// either the old file or the new one, plus at worst a stray *.tmp.* file that nothing reads.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace db {

// throws std::runtime_error when the file cannot be written
void write_file_atomically(const std::filesystem::path& path, std::string_view content);
// the same for a file written as consecutive parts (a header, then tensors), without joining them
void write_file_atomically(const std::filesystem::path& path, std::span<const std::string_view> parts);
// the whole file; throws std::runtime_error when it cannot be read
std::string read_text_file(const std::filesystem::path& path);

}  // namespace db
