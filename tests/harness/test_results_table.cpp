// test_results_table.cpp: the pivot on a hand-made runs.csv with answers worked out by hand
// (best over lr, then mean over seeds), its markdown/CSV forms, CSV quoting, and the `table`
// command reading its defaults from the experiment's report section.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "harness/report/csv.h"
#include "harness/report/results_table.h"
#include "harness/commands/table.h"
#include "harness_test_support.h"

namespace db {
namespace {

// two mixers x two widths x two lrs x two seeds, plus rows the pivot must ignore
const char* kRuns =
    "run_id,status,model.mixer.name,model.d_model,train.lr,seed,score,wall_s\n"
    // deltanet, d=64: best over lr per seed = 0.8 (seed 1), 0.6 (seed 2) -> mean 0.7
    "a1,done,deltanet,64,0.001,1,0.8,1\n"
    "a2,done,deltanet,64,0.01,1,0.5,1\n"
    "a3,done,deltanet,64,0.001,2,0.4,1\n"
    "a4,done,deltanet,64,0.01,2,0.6,1\n"
    // deltanet, d=128: 0.9 and 1.0 -> 0.95
    "b1,done,deltanet,128,0.001,1,0.9,1\n"
    "b2,done,deltanet,128,0.01,1,0.1,1\n"
    "b3,done,deltanet,128,0.001,2,0.2,1\n"
    "b4,done,deltanet,128,0.01,2,1.0,1\n"
    // linear_attention, d=64: only seed 1 -> 0.3 (n=1)
    "c1,done,linear_attention,64,0.001,1,0.3,1\n"
    "c2,done,linear_attention,64,0.01,1,0.25,1\n"
    // not done: ignored even though their scores would win
    "c3,failed,linear_attention,64,0.001,2,,1\n"
    "c4,diverged,linear_attention,64,0.01,2,0.99,1\n";

TableSpec spec() {
  TableSpec s;
  s.rows = {"model.mixer.name"};
  s.cols = {"model.d_model"};
  s.value = "score";
  s.best_over = {"train.lr"};
  s.mean_over = {"seed"};
  return s;
}

TEST(ResultsTable, BestOverLrThenMeanOverSeeds) {
  const PivotTable t = pivot_runs(parse_csv(kRuns), spec());
  ASSERT_EQ(t.row_labels, (std::vector<std::vector<std::string>>{{"deltanet"}, {"linear_attention"}}));
  ASSERT_EQ(t.col_labels, (std::vector<std::vector<std::string>>{{"64"}, {"128"}}));  // numeric order
  EXPECT_NEAR(t.cells[0][0].mean, 0.7, 1e-12);
  EXPECT_EQ(t.cells[0][0].count, 2u);
  EXPECT_NEAR(t.cells[0][1].mean, 0.95, 1e-12);
  EXPECT_NEAR(t.cells[1][0].mean, 0.3, 1e-12);
  EXPECT_EQ(t.cells[1][0].count, 1u);
  EXPECT_FALSE(t.cells[1][1].present);
  EXPECT_TRUE(t.as_percent);
  EXPECT_TRUE(t.warnings.empty());
}

TEST(ResultsTable, MarkdownAndCsvForms) {
  const PivotTable t = pivot_runs(parse_csv(kRuns), spec());
  const std::string md = pivot_markdown(t);
  EXPECT_NE(md.find("score (%), best over train.lr, mean over seed (n = 2 per cell)"), std::string::npos) << md;
  EXPECT_NE(md.find("| model.mixer.name | d_model=64 | d_model=128 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| deltanet | 70.0 | 95.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| linear_attention | 30.0 (n=1) | - |"), std::string::npos) << md;
  const CsvTable csv = parse_csv(pivot_csv(t));
  EXPECT_EQ(csv.header, (std::vector<std::string>{"model.mixer.name", "d_model=64", "d_model=64 n", "d_model=128", "d_model=128 n"}));
  EXPECT_EQ(csv.rows[0], (std::vector<std::string>{"deltanet", "0.7", "2", "0.95", "2"}));
  EXPECT_EQ(csv.rows[1], (std::vector<std::string>{"linear_attention", "0.3", "1", "", ""}));
}

TEST(ResultsTable, ValuesOutsideZeroOneUseThreeDecimals) {
  TableSpec s = spec();
  s.value = "wall_s";
  s.best_over = {"train.lr"};
  const char* runs = "run_id,status,model.mixer.name,model.d_model,train.lr,seed,wall_s\nx,done,a,8,0.1,1,12.34567\n";
  const PivotTable t = pivot_runs(parse_csv(runs), s);
  EXPECT_FALSE(t.as_percent);
  EXPECT_NE(pivot_markdown(t).find("| a | 12.346 |"), std::string::npos) << pivot_markdown(t);
}

TEST(ResultsTable, WarnsWhenACellMixesUnrelatedRuns) {
  TableSpec s = spec();
  s.best_over = {};  // lr now varies inside cells without being declared
  const PivotTable t = pivot_runs(parse_csv(kRuns), s);
  ASSERT_EQ(t.warnings.size(), 1u);
  EXPECT_NE(t.warnings[0].find("train.lr"), std::string::npos) << t.warnings[0];
}

TEST(ResultsTable, UnknownColumnSuggestsTheClosest) {
  TableSpec s = spec();
  s.rows = {"model.mixer.nam"};
  test::expect_experiment_error([&] { pivot_runs(parse_csv(kRuns), s); }, "deltabench table", "rows",
                                "did you mean 'model.mixer.name'?");
}

TEST(Csv, QuotedFieldsRoundTrip) {
  const std::vector<std::string> fields = {"plain", "a,b", "say \"hi\"", "two\nlines", ""};
  const CsvTable t = parse_csv(csv_line({"h1", "h2", "h3", "h4", "h5"}) + csv_line(fields));
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0], fields);
}

// a results folder holding kRuns and an experiment.yaml with this report section
void write_results_folder(const std::filesystem::path& dir, const std::string& report) {
  write_file_atomically(dir / "runs.csv", kRuns);
  write_file_atomically(dir / "experiment.yaml", "task: recall\nreport: " + report + "\n");
}

TEST(TableCommand, ReadsReportDefaultsAndWritesBothFiles) {
  test::TempDir tmp;
  write_results_folder(tmp.path, "{rows: model.mixer.name, cols: [model.d_model], best_over: train.lr, mean_over: seed}");
  std::ostringstream out, err;
  ASSERT_EQ(table_command(TableArgs{tmp.path.string(), {}, {}, {}, {}, ""}, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("| deltanet | 70.0 | 95.0 |"), std::string::npos) << out.str();
  EXPECT_EQ(read_text_file(tmp.path / "table.md"), out.str());
  EXPECT_EQ(parse_csv(read_text_file(tmp.path / "table.csv")).rows.size(), 2u);

  // flags override the report: rows by width, no columns, best over everything in the cell
  std::ostringstream out2, err2;
  ASSERT_EQ(table_command(TableArgs{(tmp.path / "runs.csv").string(), {"model.d_model"}, {"model.mixer.name"}, {"train.lr"}, {"seed"}, "score"},
                          out2, err2),
            0)
      << err2.str();
  EXPECT_NE(out2.str().find("| 64 | 70.0 | 30.0 (n=1) |"), std::string::npos) << out2.str();

  std::ostringstream out3, err3;
  EXPECT_EQ(table_command(TableArgs{tmp.path.string(), {"nope"}, {}, {}, {}, ""}, out3, err3), 2);
  EXPECT_NE(err3.str().find("runs.csv has no column 'nope'"), std::string::npos) << err3.str();
}

// A report written for all of a file's profiles may name a key that one profile's runs lack (an
// option of a mixer it does not train): that key is left out with a note, the table still made.
TEST(TableCommand, AReportKeyNoRunHasIsLeftOutWithANote) {
  test::TempDir tmp;
  write_results_folder(tmp.path, "{rows: [model.mixer.name, model.mixer.householder], cols: [model.d_model], "
                                 "best_over: train.lr, mean_over: seed}");
  std::ostringstream out, err;
  ASSERT_EQ(table_command(TableArgs{tmp.path.string(), {}, {}, {}, {}, ""}, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("| deltanet | 70.0 | 95.0 |"), std::string::npos) << out.str();
  EXPECT_NE(err.str().find("report.rows key 'model.mixer.householder' is in no run"), std::string::npos) << err.str();
}

}  // namespace
}  // namespace db
