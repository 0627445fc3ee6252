// fuzz_experiment.cpp: libFuzzer target for the experiment loader: YAML, validation and sweep
// expansion against the real task and mixer registries, as `deltabench run --dry-run` does.
//
// Bad input must end in ExperimentError (a message naming file, line and key); a crash, a hang, a
// sanitizer report or any other exception is a finding. Expansion is bounded by the loader's own
// limits (document size and depth, run count), which is what the target exercises.
#include <cstdint>
#include <string>

#include "harness/config/component_catalog.h"
#include "harness/config/experiment_error.h"
#include "harness/config/experiment_file.h"
#include "harness/sweep/expansion.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const db::ComponentCatalog catalog = db::registry_catalog();
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const db::Experiment ex = db::parse_experiment(text, "fuzz.yaml");
    std::string profile;
    if (!ex.profiles.empty()) profile = ex.profiles.front().name;
    (void)db::expand_experiment(ex, {profile, {}}, catalog);
  } catch (const db::ExperimentError&) {
  }
  return 0;
}
