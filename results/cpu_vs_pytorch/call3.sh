#!/usr/bin/env bash
# device call 3: the GPU model test that failed in call 2 (its output), the fixed test, the quickstart
# on this CPU against results/quickstart, and more samples of the 2-thread step beside PyTorch
export LD_LIBRARY_PATH=$PWD/.devlib:/usr/local/cuda/lib64
export DELTABENCH_TEST_DATA_DIR=$PWD/tests/data
.devbin/test_gpu_model --gtest_filter='*LossArgmax*alternate_layout*' 2>&1 | grep -vE "^\[ *(RUN|OK) " | head -30
.devbin/test_gpu_model.fixed 2>&1 | grep -E "PASSED|FAILED|Failure|row|Expected|Which" | head -20
unset CUDA_VISIBLE_DEVICES
( time .devbin/deltabench run experiments/quickstart.yaml --out /tmp/qs --jobs 9 --quiet ) 2>&1 | tail -3
.devbin/deltabench table /tmp/qs > /dev/null && python3 scripts/compare_results.py /tmp/qs results/quickstart | tail -2
for i in 1 2 3; do
  OMP_NUM_THREADS=2 .devbin/bench_train_step.new --benchmark_filter='^TrainStep/deltanet/' 2>&1 | grep TrainStep
done
CUDA_VISIBLE_DEVICES= timeout 150 python3 bench/peers/torch_train_step.py --threads 2 --d 128
