// table.h: `deltabench table RESULTS ...`: merge run folders into runs.csv and pivot it.
//
// RESULTS is a results folder (results/<name>/) or a runs.csv file. For a folder, runs.csv is first
// rebuilt from runs/*/result.json, which merges the shards of a sweep that share the folder. Options
// not given come from the report section of experiment.yaml beside runs.csv. Writes table.md and
// table.csv next to runs.csv and prints the markdown. Exit 2 for bad options, 1 for I/O failures.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace db {

struct TableArgs {
  std::string results;
  std::vector<std::string> rows, cols, best_over, mean_over;  // empty = from the report section
  std::string value;                                          // "" = report.value, else "score"
};

int table_command(const TableArgs& args, std::ostream& out, std::ostream& err);

}  // namespace db
