// test_shipped_experiments.cpp: every experiment file in experiments/ and its subfolders
// (experiments/probes/) expands, with and without each of its profiles, against the real component
// registry (a profile that trains on cuda, in a build without the CUDA backend: refused by name, and
// the rest of it checked with train.device=cpu).
//
// Why: the experiment files are what researchers run, and a typo in one (a renamed option, a zip
// whose lists drifted apart in length) would otherwise surface only when someone starts a sweep.
// Expansion resolves and validates every run, so this is the same check `run --dry-run` makes.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "harness/config/component_catalog.h"
#include "harness/config/experiment_file.h"
#include "harness/sweep/expansion.h"
#include "harness/train/device_support.h"

namespace db {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> shipped_experiment_files() {
  std::vector<fs::path> files;
  // recursive: the one-off studies live in experiments/probes/
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(DELTABENCH_SOURCE_DIR) / "experiments"))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ShippedExperiments, EveryFileAndProfileExpandsAgainstTheRegistry) {
  const std::vector<fs::path> files = shipped_experiment_files();
  ASSERT_FALSE(files.empty()) << "no experiments/**/*.yaml found under " << DELTABENCH_SOURCE_DIR;
  const ComponentCatalog catalog = registry_catalog();
  for (const fs::path& file : files) {
    SCOPED_TRACE(fs::relative(file, DELTABENCH_SOURCE_DIR).string());
    Experiment experiment;
    ASSERT_NO_THROW(experiment = load_experiment(file));
    std::vector<std::string> profiles{""};
    for (const Profile& profile : experiment.profiles) profiles.push_back(profile.name);
    for (const std::string& profile : profiles) {
      SCOPED_TRACE("profile '" + profile + "'");
      try {
        const Expansion expansion = expand_experiment(experiment, ExpandOptions{profile, {}}, catalog);
        EXPECT_FALSE(expansion.runs.empty());
      } catch (const ExperimentError& e) {
        // a build without the CUDA backend refuses a profile that trains on cuda, naming the key; the
        // rest of such a profile is still checked, on the CPU
        if (cuda_backend_built() || std::string(e.what()).find("train.device") == std::string::npos) {
          ADD_FAILURE() << e.what();
          continue;
        }
        EXPECT_NO_THROW(expand_experiment(experiment, ExpandOptions{profile, {"train.device=cpu"}}, catalog));
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
    }
  }
}

}  // namespace
}  // namespace db
