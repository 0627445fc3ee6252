// csv.h: the small CSV dialect of runs.csv and table.csv (RFC 4180 quoting, '\n' line ends).
//
// Config values can hold commas (lists like [0.9, 0.999]) and error messages can hold anything, so
// fields are quoted when needed and the reader understands quotes; nothing else is supported.
#pragma once

#include <string>
#include <vector>

namespace db {

std::string csv_field(const std::string& value);
std::string csv_line(const std::vector<std::string>& fields);

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each as long as header
  // index of a column, or -1
  int column(const std::string& name) const;
};

// throws std::runtime_error on an unterminated quote
CsvTable parse_csv(const std::string& text);

}  // namespace db
