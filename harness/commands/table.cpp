// table.cpp: the `table` subcommand (see table.h).
#include "harness/commands/table.h"

#include <fmt/format.h>

#include <filesystem>

#include "common/atomic_file.h"
#include "harness/config/experiment_file.h"
#include "harness/report/results_table.h"
#include "harness/sweep/results_folder.h"

namespace db {

namespace fs = std::filesystem;

namespace {

// "a,b" and repeated flags both give lists
std::vector<std::string> split_commas(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) {
    size_t start = 0;
    while (start <= item.size()) {
      const size_t comma = item.find(',', start);
      const std::string part = item.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!part.empty()) out.push_back(part);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

}  // namespace

int table_command(const TableArgs& args, std::ostream& out, std::ostream& err) {
  const fs::path given(args.results);
  const bool is_dir = fs::is_directory(given);
  const fs::path root = is_dir ? given : given.parent_path();
  const fs::path csv_path = is_dir ? given / "runs.csv" : given;
  TableSpec spec;
  std::string csv_text;
  try {
    if (is_dir && fs::is_directory(given / "runs")) {
      std::vector<std::string> left_out;
      RunStore(root).rebuild_runs_csv(&left_out);
      for (const auto& why : left_out) err << "warning: not in runs.csv: " << why << '\n';
    }
    if (!fs::exists(csv_path)) {
      err << "error: " << args.results << ": no runs.csv here (give a results folder or a runs.csv file)\n";
      return 2;
    }
    csv_text = read_text_file(csv_path);
  } catch (const std::exception& e) {
    err << "error: " << e.what() << '\n';
    return 1;
  }
  try {
    ReportSpec report;
    const fs::path experiment_file = root / "experiment.yaml";
    if (fs::exists(experiment_file)) {
      YAML::Node doc;
      try {
        doc = YAML::LoadFile(experiment_file.string());
      } catch (const YAML::Exception& e) {
        throw ExperimentError(Origin::from_file(experiment_file.string(), e.mark.line), "", "malformed YAML: " + e.msg);
      }
      if (doc.IsMap()) report = parse_report(doc["report"], experiment_file.string());
    }
    const CsvTable runs = parse_csv(csv_text);
    // the report names keys for every profile of the file; a key that none of this folder's runs has
    // (an option of a mixer the profile does not train) is left out, where a flag's key must exist
    auto from_report = [&](const std::vector<std::string>& keys, const char* option) {
      std::vector<std::string> kept;
      for (const auto& key : keys)
        if (runs.column(key) >= 0)
          kept.push_back(key);
        else
          err << fmt::format("note: report.{} key '{}' is in no run of {}; left out\n", option, key, csv_path.string());
      return kept;
    };
    spec.rows = args.rows.empty() ? from_report(report.rows, "rows") : split_commas(args.rows);
    spec.cols = args.cols.empty() ? from_report(report.cols, "cols") : split_commas(args.cols);
    spec.best_over = args.best_over.empty() ? from_report(report.best_over, "best_over") : split_commas(args.best_over);
    spec.mean_over = args.mean_over.empty() ? from_report(report.mean_over, "mean_over") : split_commas(args.mean_over);
    spec.value = !args.value.empty() ? args.value : !report.value.empty() ? report.value : "score";
    if (spec.rows.empty() && spec.cols.empty())
      throw ExperimentError(Origin::from_cli("deltabench table"), "rows",
                            "say which keys form the rows (--rows model.mixer.name, or report.rows in the experiment)");
    const PivotTable table = pivot_runs(runs, spec);
    for (const auto& w : table.warnings) err << "warning: " << w << '\n';
    const std::string markdown = pivot_markdown(table);
    write_file_atomically(root / "table.md", markdown);
    write_file_atomically(root / "table.csv", pivot_csv(table));
    out << markdown;
    return 0;
  } catch (const ExperimentError& e) {
    err << "error: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    err << "error: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace db
