// test_repository.cpp: the repository stands alone. A user has only a clone, so no file outside
// results/ (whose run folders record where they were made) may point at a folder beside the
// checkout or at a path of a development machine; docs and tests carry what they need.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// built from pieces so that this file does not match itself
const std::vector<std::string>& outside_pointers() {
  static const std::vector<std::string> p = {std::string("../") + "shared", std::string("shared/") + "docs",
                                             std::string("shared/") + "reference", std::string("/wo") + "rk/"};
  return p;
}

// top-level folders that are not the project's sources: git's own, build trees, run outputs
bool skipped_top_level(const std::string& name) {
  static const std::set<std::string> skip = {".git", "results", "out", "tmp"};
  return skip.count(name) || name.rfind("build", 0) == 0 || (name.rfind(".", 0) == 0 && name != ".ci");
}

TEST(Repository, NoFilePointsOutsideTheRepository) {
  const fs::path root = DELTABENCH_SOURCE_DIR;
  std::vector<std::string> offenders;
  int files = 0;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    const fs::path rel = fs::relative(it->path(), root);
    if (it.depth() == 0 && skipped_top_level(rel.string())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || it->path().extension() == ".safetensors") continue;
    ++files;
    std::ifstream in(it->path(), std::ios::binary);
    std::string line;
    for (int number = 1; std::getline(in, line); ++number)
      for (const auto& p : outside_pointers())
        if (line.find(p) != std::string::npos) offenders.push_back(rel.string() + ":" + std::to_string(number) + ": " + line);
  }
  EXPECT_GT(files, 100) << "the walk found too few files under " << root;
  std::ostringstream list;
  for (const auto& o : offenders) list << "\n  " << o;
  EXPECT_TRUE(offenders.empty()) << offenders.size() << " lines point outside the repository:" << list.str();
}

}  // namespace
