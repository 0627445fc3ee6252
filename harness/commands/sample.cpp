// sample.cpp: the `sample` subcommand (see sample.h).
#include "harness/commands/sample.h"

#include <fmt/format.h>

#include "harness/config/experiment_error.h"
#include "harness/sweep/expansion.h"
#include "harness/config/yaml_values.h"
#include "tasks/sample.h"
#include "tasks/task.h"

namespace db {

int sample_command(const SampleArgs& args, std::ostream& out, std::ostream& err) {
  std::map<std::string, OptionValue> overrides;
  std::map<std::string, Origin> origins;
  try {
    if (args.split != "train" && args.split != "test")
      throw ExperimentError(Origin::from_cli("--split " + args.split), "", "must be train or test");
    for (const auto& text : args.sets) {
      // the same key=value reading as `run --set`, with the task. prefix optional
      const bool prefixed = text.rfind("task.", 0) == 0;
      Assignment a = parse_set_override(prefixed ? text : "task." + text);
      const std::string key = a.key.substr(5);
      overrides[key] = yaml_to_option_value(a.value, Origin::from_cli("--set " + text), a.key);
      origins[key] = Origin::from_cli("--set " + text);
    }
    std::unique_ptr<Task> task;
    try {
      task = create_task(args.task, overrides);
    } catch (const ConfigError& e) {
      const std::string key = e.key == "name" && !overrides.count("name") ? "task" : "task." + e.key;
      auto it = origins.find(e.key);
      throw ExperimentError(it != origins.end() ? it->second : Origin::from_cli("deltabench sample " + args.task), key, e.what());
    }
    print_samples(*task, args.split == "train" ? Split::train : Split::test, args.seed, args.n, args.format, out);
    return 0;
  } catch (const ExperimentError& e) {
    err << "error: " << e.what() << '\n';
    return 2;
  } catch (const ConfigError& e) {
    err << "error: " << e.key << ": " << e.what() << '\n';
    return 2;
  }
}

}  // namespace db
