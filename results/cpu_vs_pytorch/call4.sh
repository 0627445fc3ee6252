#!/usr/bin/env bash
# device call 4: GPU tests; issue 18's table pinned (scripts/bench-cpu-peer.sh), the x86-64-v4 build beside
# it; every mixer's small model; the quickstart on this CPU against results/quickstart
export LD_LIBRARY_PATH=$PWD/.devlib:/usr/local/cuda/lib64
export DELTABENCH_TEST_DATA_DIR=$PWD/tests/data
lscpu | grep -E "^CPU\(s\)|Thread|Core|Socket|Model name"
for t in .devbin/test_gpu_*; do echo "== $t"; $t 2>&1 | grep -E "PASSED|FAILED|Failure|actual" | head -8; done
export CUDA_VISIBLE_DEVICES=
BENCH=.devbin/bench_train_step.new PYTHON=python3 timeout 420 scripts/bench-cpu-peer.sh "2 16" 2>&1 | grep -vE "^(Run on|CPU Caches|  L[123]|Load Average|---|Benchmark  )"
echo "== x86-64-v4 build, pinned"
for n in 2 16; do OMP_PLACES=cores OMP_PROC_BIND=close OMP_NUM_THREADS=$n .devbin/bench_train_step.v4 --benchmark_filter='^TrainStep/deltanet/' 2>&1 | grep TrainStep; done
echo "== every mixer's small model, one thread"
OMP_NUM_THREADS=1 .devbin/bench_train_step.new --benchmark_filter='^TrainStepSmall/' 2>&1 | grep TrainStep
echo "== quickstart here against results/quickstart"
unset CUDA_VISIBLE_DEVICES
( time .devbin/deltabench run experiments/quickstart.yaml --out /tmp/qs --jobs 9 --quiet ) 2>&1 | tail -3
.devbin/deltabench table /tmp/qs > /dev/null && python3 scripts/compare_results.py /tmp/qs results/quickstart | tail -1
