// fuzz_cli_parsers.cpp: libFuzzer target for the command-line value parsers: `--set key=value`
// and `--shard i/n`. Each must accept the text or throw ExperimentError naming the flag.
#include <cstdint>
#include <string>

#include "harness/config/experiment_error.h"
#include "harness/sweep/expansion.h"
#include "harness/sweep/shard.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)db::parse_set_override(text);
  } catch (const db::ExperimentError&) {
  }
  try {
    const db::Shard s = db::parse_shard(text);
    if (s.count == 0 || s.index >= s.count) __builtin_trap();  // an accepted shard must be usable
  } catch (const db::ExperimentError&) {
  }
  return 0;
}
