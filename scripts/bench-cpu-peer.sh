#!/usr/bin/env bash
# bench-cpu-peer.sh: the CPU training step of deltabench beside the same step in PyTorch, in one command
# (issue-style ratios need both on one machine at one time). Needs bench_train_step and a python3 with
# torch (a current PyTorch: Debian's 1.13 with a generic BLAS is no fair peer).
#   usage: scripts/bench-cpu-peer.sh [thread counts, default "2 16"]
#   env:   PYTHON (default python3), BENCH (default build/bench_train_step)
# Prints, for each thread count, the reference step (d 128, vocabulary 8192, T 256, DeltaNet) of both,
# then the small model of a quick profile (d 64, vocabulary 512, T 128) on one thread for the four
# mixers the peer has. Threads are pinned one per core (OMP_PLACES=cores) for both programs: unpinned,
# two threads can share a core's hyperthreads and a 2-thread figure swings by 1.5x from run to run.
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2 16}"
bench="${BENCH:-build/bench_train_step}"
python="${PYTHON:-python3}"
export OMP_PLACES=cores OMP_PROC_BIND=close
small='deltanet,gated_deltanet,linear_attention,softmax_attention'
for n in $threads; do
  echo "== deltabench, $n threads"
  OMP_NUM_THREADS="$n" "$bench" --benchmark_filter='^TrainStep/deltanet/'
done
echo "== PyTorch"
"$python" bench/peers/torch_train_step.py --check --threads "${threads// /,}" --d 128
echo "== small models, one thread"
OMP_NUM_THREADS=1 "$bench" --benchmark_filter="^TrainStepSmall/(${small//,/|})/"
"$python" bench/peers/torch_train_step.py --threads 1 --d 64 --vocab 512 --seq 128 --mixer "$small"
