#!/usr/bin/env bash
# device call 2: issue 18's table and the small models, beside PyTorch 2.11, in one command; GPU tests
export LD_LIBRARY_PATH=$PWD/.devlib:/usr/local/cuda/lib64
export DELTABENCH_TEST_DATA_DIR=$PWD/tests/data
cd "$(dirname "$0")/.." 
for t in .devbin/test_gpu_*; do echo "== $t"; $t 2>&1 | grep -E "PASSED|FAILED|tests ran" ; done
echo "== reference step, default build (x86-64-v3), then the native-equivalent build (x86-64-v4: AVX-512)"
for t in 2 16; do
  for b in new base new v4; do
    echo -n "$b threads$t "; OMP_NUM_THREADS=$t .devbin/bench_train_step.$b --benchmark_filter='^TrainStep/deltanet/' 2>&1 | grep TrainStep
  done
done
echo "== small models (d 64, V 512, T 128), one thread (a quick sweep's one run per core), every mixer"
OMP_NUM_THREADS=1 .devbin/bench_train_step.new --benchmark_filter='^TrainStepSmall/' 2>&1 | grep TrainStep
echo "== PyTorch 2.11"
export CUDA_VISIBLE_DEVICES=
timeout 240 python3 bench/peers/torch_train_step.py --check --threads 2,16 --d 128
timeout 200 python3 bench/peers/torch_train_step.py --threads 1 --d 64 --vocab 512 --seq 128 --mixer deltanet,gated_deltanet,linear_attention,softmax_attention
echo "== quickstart on this Intel Xeon (9 runs, one thread each) against results/quickstart (made on the 2-core AMD EPYC)"
unset CUDA_VISIBLE_DEVICES
( time .devbin/deltabench run experiments/quickstart.yaml --out /tmp/qs --jobs 9 --quiet ) 2>&1 | tail -4
python3 scripts/compare_results.py /tmp/qs results/quickstart | tail -2
