// results_folder.cpp: run folders, result files and runs.csv (see results_folder.h).
#include "harness/sweep/results_folder.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "common/version.h"
#include "common/atomic_file.h"
#include "harness/report/csv.h"
#include "harness/config/yaml_values.h"

namespace db {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kResultFile = "result.json";
constexpr const char* kFailureFile = "failed.json";

// json cannot hold nan/inf; a diverged run's loss may be one
json number(double d) { return std::isfinite(d) ? json(d) : json(double_text(d)); }

json base_record(const ResolvedConfig& config, const std::string& status) {
  json j;
  j["run_id"] = run_id(config);
  j["status"] = status;
  j["experiment"] = config.experiment;
  j["hash"] = config.hash;
  j["seed"] = config.seed;
  j["git_sha"] = git_sha();
  j["build"] = build_flavour();
  json flat = json::object();
  for (const auto& [k, v] : config.flat) flat[k] = v;
  j["config"] = flat;
  return j;
}

std::string cell(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) return double_text(v.get<double>());
  if (v.is_null()) return "nan";
  return v.dump();
}

// column groups in runs.csv order: ids, config, metrics, run facts, error
const std::vector<std::string> kFactColumns = {"num_params", "state_size", "steps", "tokens_per_s", "wall_s", "git_sha", "build"};

}  // namespace

std::string run_id(const ResolvedConfig& config) { return config.slug + "-" + config.hash; }

RunStore::RunStore(fs::path root) : root_(std::move(root)) {}

fs::path RunStore::run_dir(const ResolvedConfig& config) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!indexed_) {
    indexed_ = true;
    std::error_code ec;
    if (fs::is_directory(runs_dir(), ec))
      for (const auto& entry : fs::directory_iterator(runs_dir(), ec)) {
        const std::string name = entry.path().filename().string();
        const size_t dash = name.rfind('-');
        if (entry.is_directory() && dash != std::string::npos) by_hash_.emplace(name.substr(dash + 1), entry.path());
      }
  }
  auto it = by_hash_.find(config.hash);
  if (it != by_hash_.end()) return it->second;
  const fs::path dir = runs_dir() / run_id(config);
  by_hash_.emplace(config.hash, dir);
  return dir;
}

namespace {
// a result or failure record, checked for the fields runs.csv reads; throws naming the file
json read_record(const fs::path& file) {
  json j;
  try {
    j = json::parse(read_text_file(file));
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: unreadable ({})", file.string(), e.what()));
  }
  if (!j.is_object() || !j.contains("status") || !j["status"].is_string() || !j.contains("config") ||
      !j["config"].is_object() || (j.contains("metrics") && !j["metrics"].is_object()))
    throw std::runtime_error(fmt::format("{}: not a run record (needs a status string and a config object)", file.string()));
  return j;
}
}  // namespace

std::string RunStore::damaged_result(const fs::path& run_dir) {
  if (!fs::exists(run_dir / kResultFile)) return "";
  try {
    read_record(run_dir / kResultFile);
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

bool RunStore::is_finished(const fs::path& run_dir) {
  return fs::exists(run_dir / kResultFile) && damaged_result(run_dir).empty();
}

void RunStore::prepare(const fs::path& run_dir, const ResolvedConfig& config) {
  fs::create_directories(run_dir);
  write_file_atomically(run_dir / "config.yaml", config.yaml);
}

void RunStore::write_result(const fs::path& run_dir, const ResolvedConfig& config, const RunOutcome& outcome) {
  json j = base_record(config, outcome.status);
  json metrics = json::object();
  for (const auto& [k, v] : outcome.metrics) metrics[k] = number(v);
  j["metrics"] = metrics;
  json curves = json::object();
  for (const auto& [k, values] : outcome.curves) {
    json list = json::array();
    for (double v : values) list.push_back(number(v));
    curves[k] = list;
  }
  j["curves"] = curves;
  j["num_params"] = outcome.num_params;
  j["state_size"] = outcome.state_size;
  j["steps"] = outcome.steps;
  j["tokens_per_s"] = number(outcome.tokens_per_s);
  j["wall_s"] = number(outcome.wall_s);
  write_file_atomically(run_dir / kResultFile, j.dump(2) + "\n");
  std::error_code ec;
  fs::remove(run_dir / kFailureFile, ec);
}

void RunStore::write_failure(const fs::path& run_dir, const ResolvedConfig& config, const std::string& message) {
  json j = base_record(config, "failed");
  j["error"] = message;
  fs::create_directories(run_dir);
  write_file_atomically(run_dir / kFailureFile, j.dump(2) + "\n");
}

void RunStore::save_experiment_copy(const std::string& text) {
  fs::create_directories(root_);
  write_file_atomically(root_ / "experiment.yaml", text);
}

std::string runs_csv_text(const fs::path& runs_dir, size_t* row_count, std::vector<std::string>* left_out) {
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> rows;  // (run_id, column -> cell)
  std::set<std::string> config_columns, metric_columns;
  bool any_error = false;
  std::error_code ec;
  if (fs::is_directory(runs_dir, ec))
    for (const auto& entry : fs::directory_iterator(runs_dir, ec)) {
      if (!entry.is_directory()) continue;
      fs::path file = entry.path() / kResultFile;
      if (!fs::exists(file)) file = entry.path() / kFailureFile;
      if (!fs::exists(file)) {
        if (left_out) left_out->push_back(fmt::format("{} (unfinished)", entry.path().filename().string()));
        continue;
      }
      json j;
      try {
        j = read_record(file);
      } catch (const std::exception& e) {
        // written atomically by deltabench, so damaged by something else; the run trains again
        if (left_out) left_out->push_back(e.what());
        continue;
      }
      std::map<std::string, std::string> row;
      row["run_id"] = entry.path().filename().string();
      row["status"] = j.value("status", "");
      // named copies: iterating items() of a temporary would dangle
      const json config = j.value("config", json::object());
      const json metrics = j.value("metrics", json::object());
      for (const auto& [k, v] : config.items()) row[k] = cell(v), config_columns.insert(k);
      for (const auto& [k, v] : metrics.items()) row[k] = cell(v), metric_columns.insert(k);
      for (const auto& k : kFactColumns)
        if (j.contains(k)) row[k] = cell(j[k]);
      if (j.contains("error")) row["error"] = cell(j["error"]), any_error = true;
      rows.emplace_back(row["run_id"], std::move(row));
    }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });

  std::vector<std::string> header{"run_id", "status"};
  header.insert(header.end(), config_columns.begin(), config_columns.end());
  for (const auto& m : metric_columns)
    if (!config_columns.count(m)) header.push_back(m);
  header.insert(header.end(), kFactColumns.begin(), kFactColumns.end());
  if (any_error) header.push_back("error");

  std::string text = csv_line(header);
  for (const auto& [id, row] : rows) {
    std::vector<std::string> fields;
    for (const auto& h : header) {
      auto it = row.find(h);
      fields.push_back(it == row.end() ? "" : it->second);
    }
    text += csv_line(fields);
  }
  if (row_count) *row_count = rows.size();
  return text;
}

size_t RunStore::rebuild_runs_csv(std::vector<std::string>* left_out) {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t rows = 0;
  const std::string text = runs_csv_text(runs_dir(), &rows, left_out);
  fs::create_directories(root_);
  write_file_atomically(runs_csv(), text);
  return rows;
}

}  // namespace db
