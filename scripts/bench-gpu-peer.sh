#!/usr/bin/env bash
# bench-gpu-peer.sh: deltabench's GPU training step and delta-rule kernel beside flash-linear-attention's,
# in one command on one GPU (the issue-style ratios need both measured together), then a table of
# tokens/s and the ratios. Needs a CUDA build (build/bench_gpu_train_step) and a python3 with torch,
# triton and fla importable (fla is a peer: fetched where it runs, never committed here).
#   usage: scripts/bench-gpu-peer.sh [fla checkout, default: fla already importable]
#   env:   BUILD (default build), PYTHON (default python3), MIN_TIME (Google Benchmark seconds, default 1),
#          KEEP (a folder to keep both raw measurements in, ours.json and fla.txt; default: a temporary one)
# fla runs in bf16 only: its bf16 figure is the yardstick of both of our precisions.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD:-build}"
if [ -n "${KEEP:-}" ]; then
  out="$KEEP"
  mkdir -p "$out"
else
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
if [ -n "${1:-}" ]; then export PYTHONPATH="$1${PYTHONPATH:+:$PYTHONPATH}"; fi
nvidia-smi -L
echo "== deltabench"
"$build/bench_gpu_train_step" --benchmark_min_time="${MIN_TIME:-1}" --benchmark_out="$out/ours.json" \
  --benchmark_out_format=json
echo "== flash-linear-attention"
"${PYTHON:-python3}" bench/peers/fla_speed.py --precision bf16 | tee "$out/fla.txt"
"${PYTHON:-python3}" bench/peers/gpu_ratio_table.py "$out/ours.json" "$out/fla.txt"
