// sweep_listing.h: human-readable views of an expanded sweep, printed before anything trains.
//
// The settings table (like llm.c's parameter table) shows every resolved key once, with its value
// or, for swept keys, the set of values it takes, so a wrong default is caught before hours of
// training. The dry-run listing shows each run's id and the values that distinguish it.
#pragma once

#include <string>

#include "harness/sweep/shard.h"
#include "harness/sweep/expansion.h"

namespace db {

// aligned "key  value" lines; swept keys show "{a, b, c}  (swept)"
std::string settings_table(const Expansion& expansion);
// "#  run_id  key=value ..." for each run of the shard, then the count
std::string dry_run_listing(const Expansion& expansion, const Shard& shard);

}  // namespace db
