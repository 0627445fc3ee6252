// results_table.h: pivot runs.csv into the paper-shaped table (MAD / Zoology aggregation).
//
// Keep rows with status "done". Group by the row keys, the column keys and the mean_over keys; in
// each group take the maximum of `value` (the best over whatever varies inside the group, which
// should be only the best_over keys, e.g. train.lr); then average those maxima over the mean_over
// keys (e.g. seed) and keep the count. A group that also differs in a config column that is not a
// best_over key gets a warning, because its maximum would silently pick between unrelated runs.
//
// Formatting: when every cell lies in [0, 1] (accuracies, scores) values print as percentages with
// one decimal (the papers' style); otherwise with three decimals. table.csv keeps full precision.
#pragma once

#include <string>
#include <vector>

#include "harness/report/csv.h"

namespace db {

struct TableSpec {
  std::vector<std::string> rows, cols, best_over, mean_over;
  std::string value = "score";
};

struct PivotCell {
  bool present = false;
  double mean = 0.0;
  size_t count = 0;  // how many mean_over groups were averaged
};

struct PivotTable {
  TableSpec spec;
  std::vector<std::vector<std::string>> row_labels;  // one tuple of row-key values per table row
  std::vector<std::vector<std::string>> col_labels;  // one tuple of col-key values per table column
  std::vector<std::vector<PivotCell>> cells;         // [row][column]
  std::vector<std::string> warnings;
  bool as_percent = false;
};

// throws ExperimentError (key = the option) for a column runs.csv does not have
PivotTable pivot_runs(const CsvTable& runs, const TableSpec& spec);
std::string pivot_markdown(const PivotTable& table);
std::string pivot_csv(const PivotTable& table);

}  // namespace db
