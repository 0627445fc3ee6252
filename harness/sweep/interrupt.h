// interrupt.h: stopping a sweep cleanly on Ctrl-C or SIGTERM (a cluster's time limit).
//
// The first SIGINT or SIGTERM only raises a flag: runs in flight write a checkpoint at their current
// step and return "interrupted" (no result.json, so a rerun resumes them exactly), no new run starts,
// runs.csv is written, and `deltabench run` exits 130 saying how to resume. A second signal ends the
// process at once (exit 130), losing at most the steps since each run's last checkpoint.
#pragma once

#include <atomic>

namespace db {

// the flag the trainer and the sweep runner poll; raised by the handlers below (or by a test)
std::atomic<bool>& stop_flag();
// installs the SIGINT/SIGTERM handlers described above
void install_stop_handlers();

}  // namespace db
