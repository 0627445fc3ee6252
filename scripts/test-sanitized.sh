#!/usr/bin/env bash
# test-sanitized.sh: build every test with AddressSanitizer + UBSan into build-sanitize/ and run them.
# Not part of CI: the instrumented build takes about half an hour on 2 cores. Run it before merging
# changes to memory handling, parsers or the kernels.
#   usage: scripts/test-sanitized.sh [extra ctest flags]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null  # the Debian packages
cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDELTABENCH_SANITIZE=ON -DDELTABENCH_BENCH=OFF -DDELTABENCH_CUDA=OFF >&2
cmake --build build-sanitize -j"$(nproc)" >&2
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --test-dir build-sanitize --output-on-failure -j"$(nproc)" "$@"
