#!/usr/bin/env bash
# bench-cpu-peer.sh: the CPU training step of deltabench beside the same step in PyTorch, in one command
# (issue-style ratios need both on one machine at one time). Needs build/bench_train_step and a
# python3 with torch (a current PyTorch: Debian's 1.13 with a generic BLAS is no fair peer).
#   usage: scripts/bench-cpu-peer.sh [thread counts, default "2 16"]   (the reference model at d 128)
#   env:   PYTHON (default python3)
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2 16}"
for n in $threads; do
  echo "== deltabench, $n threads"
  OMP_NUM_THREADS="$n" build/bench_train_step --benchmark_filter='^TrainStep/deltanet/' --benchmark_min_time=2
done
echo "== PyTorch"
"${PYTHON:-python3}" bench/peers/torch_train_step.py --check --threads "${threads// /,}" --d 128
