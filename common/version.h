// version.h: what build of deltabench is running, for result rows and checkpoint metadata.
#pragma once

namespace db {

// The commit the binary was built from (12 hex digits, "-dirty" when tracked files outside results/
// differed from it, "unknown" outside a git checkout). Defined in a file generated at every build
// (cmake/write_git_sha.cmake), so it follows new commits without re-running CMake.
const char* git_sha();

}  // namespace db
