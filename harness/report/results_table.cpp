// results_table.cpp: best-over / mean-over pivot and its markdown and CSV forms (see results_table.h).
#include "harness/report/results_table.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "harness/config/experiment_error.h"
#include "harness/config/yaml_values.h"

namespace db {

namespace {

using Key = std::vector<std::string>;

bool as_number(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

// numbers compare as numbers (so d_model 64 < 128), everything else as text
bool natural_less(const Key& a, const Key& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    double x, y;
    if (as_number(a[i], x) && as_number(b[i], y)) {
      if (x != y) return x < y;
    } else if (a[i] != b[i]) {
      return a[i] < b[i];
    }
  }
  return a.size() < b.size();
}

struct NaturalLess {
  bool operator()(const Key& a, const Key& b) const { return natural_less(a, b); }
};

bool is_config_column(const std::string& name) { return name == "seed" || name.find('.') != std::string::npos; }

std::string short_name(const std::string& key) { return key.substr(key.rfind('.') + 1); }

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

std::string column_label(const PivotTable& t, size_t c) {
  if (t.spec.cols.empty()) return t.spec.value;
  std::vector<std::string> parts;
  for (size_t i = 0; i < t.spec.cols.size(); ++i) parts.push_back(short_name(t.spec.cols[i]) + "=" + t.col_labels[c][i]);
  return join(parts, ", ");
}

std::string format_value(const PivotTable& t, double v) {
  return t.as_percent ? fmt::format("{:.1f}", 100.0 * v) : fmt::format("{:.3f}", v);
}

}  // namespace

PivotTable pivot_runs(const CsvTable& runs, const TableSpec& spec) {
  const Origin origin = Origin::from_cli("deltabench table");
  auto column = [&](const std::string& name, const std::string& option) {
    const int i = runs.column(name);
    if (i < 0) throw ExperimentError(origin, option, fmt::format("runs.csv has no column '{}'{}", name, suggestion(name, runs.header)));
    return static_cast<size_t>(i);
  };
  std::vector<size_t> row_idx, col_idx, mean_idx;
  for (const auto& k : spec.rows) row_idx.push_back(column(k, "rows"));
  for (const auto& k : spec.cols) col_idx.push_back(column(k, "cols"));
  for (const auto& k : spec.best_over) column(k, "best_over");
  for (const auto& k : spec.mean_over) mean_idx.push_back(column(k, "mean_over"));
  const size_t value_idx = column(spec.value, "value");
  const int status_idx = runs.column("status");

  // columns whose variation inside a group the max is allowed to absorb
  std::set<size_t> grouped(row_idx.begin(), row_idx.end());
  grouped.insert(col_idx.begin(), col_idx.end());
  grouped.insert(mean_idx.begin(), mean_idx.end());
  for (const auto& k : spec.best_over) grouped.insert(column(k, "best_over"));
  std::vector<size_t> other_config;
  for (size_t i = 0; i < runs.header.size(); ++i)
    if (is_config_column(runs.header[i]) && !grouped.count(i)) other_config.push_back(i);

  auto pick = [](const std::vector<std::string>& row, const std::vector<size_t>& idx) {
    Key k;
    for (size_t i : idx) k.push_back(row[i]);
    return k;
  };

  struct Group {
    double best = -INFINITY;
    const std::vector<std::string>* first = nullptr;
    std::set<std::string> mixed;  // other config columns that vary inside the group
  };
  std::map<std::tuple<Key, Key, Key>, Group> groups;
  PivotTable t;
  t.spec = spec;
  size_t skipped = 0;
  for (const auto& row : runs.rows) {
    if (status_idx >= 0 && row[status_idx] != "done") continue;
    double v;
    if (!as_number(row[value_idx], v) || !std::isfinite(v)) {
      ++skipped;
      continue;
    }
    Group& g = groups[{pick(row, row_idx), pick(row, col_idx), pick(row, mean_idx)}];
    g.best = std::max(g.best, v);
    if (!g.first) g.first = &row;
    for (size_t i : other_config)
      if ((*g.first)[i] != row[i]) g.mixed.insert(runs.header[i]);
  }
  if (skipped) t.warnings.push_back(fmt::format("{} finished runs have no numeric '{}' and were left out", skipped, spec.value));
  std::set<std::string> mixed;
  for (const auto& [_, g] : groups) mixed.insert(g.mixed.begin(), g.mixed.end());
  if (!mixed.empty())
    t.warnings.push_back(fmt::format(
        "cells take the max over runs that also differ in {}; add those keys to rows, cols, mean_over or best_over",
        join({mixed.begin(), mixed.end()}, ", ")));

  std::map<Key, size_t, NaturalLess> row_pos, col_pos;
  for (const auto& [key, _] : groups) row_pos[std::get<0>(key)] = 0, col_pos[std::get<1>(key)] = 0;
  for (auto& [k, pos] : row_pos) pos = t.row_labels.size(), t.row_labels.push_back(k);
  for (auto& [k, pos] : col_pos) pos = t.col_labels.size(), t.col_labels.push_back(k);
  t.cells.assign(t.row_labels.size(), std::vector<PivotCell>(t.col_labels.size()));
  for (const auto& [key, g] : groups) {
    PivotCell& cell = t.cells[row_pos[std::get<0>(key)]][col_pos[std::get<1>(key)]];
    cell.present = true;
    cell.mean += g.best;  // summed here, divided below
    ++cell.count;
  }
  t.as_percent = true;
  for (auto& row : t.cells)
    for (auto& cell : row)
      if (cell.present) {
        cell.mean /= static_cast<double>(cell.count);
        if (cell.mean < 0.0 || cell.mean > 1.0) t.as_percent = false;
      }
  return t;
}

std::string pivot_markdown(const PivotTable& t) {
  // the usual number of averaged groups; cells with another count say so
  std::map<size_t, size_t> count_freq;
  for (const auto& row : t.cells)
    for (const auto& cell : row)
      if (cell.present) ++count_freq[cell.count];
  size_t usual = 0, usual_freq = 0;
  for (const auto& [c, f] : count_freq)
    if (f > usual_freq) usual = c, usual_freq = f;

  std::string caption = t.spec.value + (t.as_percent ? " (%)" : "");
  if (!t.spec.best_over.empty()) caption += ", best over " + join(t.spec.best_over, ", ");
  if (!t.spec.mean_over.empty()) caption += fmt::format(", mean over {} (n = {} per cell)", join(t.spec.mean_over, ", "), usual);

  std::vector<std::string> header = t.spec.rows;
  for (size_t c = 0; c < t.col_labels.size(); ++c) header.push_back(column_label(t, c));
  std::string out = caption + "\n\n| " + join(header, " | ") + " |\n|";
  for (size_t i = 0; i < header.size(); ++i) out += i < t.spec.rows.size() ? "---|" : "---:|";
  out += "\n";
  for (size_t r = 0; r < t.row_labels.size(); ++r) {
    std::vector<std::string> fields = t.row_labels[r];
    for (const auto& cell : t.cells[r]) {
      if (!cell.present) fields.push_back("-");
      else if (!t.spec.mean_over.empty() && cell.count != usual) fields.push_back(fmt::format("{} (n={})", format_value(t, cell.mean), cell.count));
      else fields.push_back(format_value(t, cell.mean));
    }
    out += "| " + join(fields, " | ") + " |\n";
  }
  return out;
}

std::string pivot_csv(const PivotTable& t) {
  std::vector<std::string> header = t.spec.rows;
  for (size_t c = 0; c < t.col_labels.size(); ++c) {
    header.push_back(column_label(t, c));
    if (!t.spec.mean_over.empty()) header.push_back(column_label(t, c) + " n");
  }
  std::string out = csv_line(header);
  for (size_t r = 0; r < t.row_labels.size(); ++r) {
    std::vector<std::string> fields = t.row_labels[r];
    for (const auto& cell : t.cells[r]) {
      fields.push_back(cell.present ? double_text(cell.mean) : "");
      if (!t.spec.mean_over.empty()) fields.push_back(cell.present ? std::to_string(cell.count) : "");
    }
    out += csv_line(fields);
  }
  return out;
}

}  // namespace db
