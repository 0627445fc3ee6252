// version.h: what build of deltabench is running, for result rows and checkpoint metadata.
#pragma once

namespace db {

// The commit the binary was built from (12 hex digits, "-dirty" when tracked files outside results/
// differed from it, "unknown" outside a git checkout). Defined in a file generated at every build
// (cmake/write_git_sha.cmake), so it follows new commits without re-running CMake.
const char* git_sha();

// The code generation the numerics were compiled for: "<-march> <compiler> <version>", e.g.
// "x86-64-v3 GNU 12.2.0". Results are bit-identical between binaries of one commit with the same
// flavour, on any CPU that runs them; a different flavour may round differently.
constexpr const char* build_flavour() { return DELTABENCH_BUILD_FLAVOUR; }

}  // namespace db
