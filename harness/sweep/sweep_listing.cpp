// sweep_listing.cpp: settings table and dry-run listing (see sweep_listing.h).
#include "harness/sweep/sweep_listing.h"

#include <fmt/format.h>

#include <map>

#include "harness/sweep/results_folder.h"

namespace db {

std::string settings_table(const Expansion& expansion) {
  std::map<std::string, std::vector<std::string>> values;  // key -> distinct values in order of appearance
  for (const auto& run : expansion.runs)
    for (const auto& [k, v] : run.flat) {
      auto& list = values[k];
      if (std::find(list.begin(), list.end(), v) == list.end()) list.push_back(v);
    }
  size_t width = 0;
  for (const auto& [k, _] : values) width = std::max(width, k.size());
  std::string out;
  for (const auto& [k, list] : values) {
    const bool swept = std::find(expansion.varying_keys.begin(), expansion.varying_keys.end(), k) !=
                       expansion.varying_keys.end();
    std::string shown;
    if (swept) {
      shown = "{";
      for (size_t i = 0; i < list.size(); ++i) shown += (i ? ", " : "") + list[i];
      shown += "}  (swept)";
    } else {
      shown = list.front();
    }
    out += fmt::format("  {:<{}}  {}\n", k, width, shown);
  }
  return out;
}

std::string dry_run_listing(const Expansion& expansion, const Shard& shard) {
  std::string out;
  size_t in_shard = 0, id_width = 0;
  for (const auto& run : expansion.runs) id_width = std::max(id_width, run_id(run).size());
  for (size_t i = 0; i < expansion.runs.size(); ++i) {
    if (!shard.owns(i)) continue;
    ++in_shard;
    const auto& run = expansion.runs[i];
    std::string distinguishing;
    for (const auto& [k, v] : run.flat)
      if (std::find(expansion.varying_keys.begin(), expansion.varying_keys.end(), k) != expansion.varying_keys.end())
        distinguishing += fmt::format(" {}={}", k, v);
    out += fmt::format("{:>4}  {:<{}} {}\n", i, run_id(run), id_width, distinguishing);
  }
  out += fmt::format("{} runs", expansion.runs.size());
  if (shard.count > 1) out += fmt::format(", {} in shard {}", in_shard, shard.describe());
  if (expansion.duplicates_dropped)
    out += fmt::format(" ({} duplicate configs dropped)", expansion.duplicates_dropped);
  return out + "\n";
}

}  // namespace db
