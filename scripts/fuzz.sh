#!/usr/bin/env bash
# fuzz.sh: build the libFuzzer targets of fuzz/ with clang (ASan + UBSan) into build-fuzz/ and run
# each for the given number of seconds, starting from its committed seed corpus (new inputs go to
# build-fuzz/corpus-<target>/, findings to build-fuzz/crash-*).
#   usage: scripts/fuzz.sh [seconds per target, default 600] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(fuzz_safetensors fuzz_experiment fuzz_cli_parsers)
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDELTABENCH_FUZZ=ON \
  -DDELTABENCH_TESTS=OFF -DDELTABENCH_BENCH=OFF >&2
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}" >&2
declare -A corpus=([fuzz_safetensors]=safetensors [fuzz_experiment]=experiment [fuzz_cli_parsers]=cli)
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus-$t"
  echo "fuzz.sh: $t for $seconds s" >&2
  (cd build-fuzz && "./$t" "corpus-$t" "../fuzz/corpus/${corpus[$t]}" -max_total_time="$seconds" \
     -max_len=16384 -rss_limit_mb=4096 -timeout=30 -print_final_stats=1)
done
