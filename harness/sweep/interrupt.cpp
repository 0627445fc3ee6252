// interrupt.cpp: SIGINT/SIGTERM handlers that raise the stop flag (see interrupt.h).
#include "harness/sweep/interrupt.h"

#include <csignal>
#include <cstring>
#include <unistd.h>

namespace db {

namespace {

static_assert(std::atomic<bool>::is_always_lock_free, "the stop flag is set from a signal handler");

void on_stop_signal(int) {
  // only async-signal-safe calls here: an atomic store, write(2) and _exit(2)
  static std::atomic<int> signals{0};
  if (signals.fetch_add(1) > 0) {
    const char message[] = "\ndeltabench: second signal, stopping now\n";
    (void)!::write(2, message, sizeof message - 1);
    ::_exit(130);
  }
  stop_flag().store(true);
  const char message[] =
      "\ndeltabench: stopping: runs in flight write a checkpoint, runs.csv is written (again to quit at once)\n";
  (void)!::write(2, message, sizeof message - 1);
}

}  // namespace

std::atomic<bool>& stop_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}

void install_stop_handlers() {
  stop_flag();  // constructed before any signal can arrive
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace db
