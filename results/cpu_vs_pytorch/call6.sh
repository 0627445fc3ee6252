#!/usr/bin/env bash
# device call 6: scripts/bench-cpu-peer.sh "2 16" with the peer's ungated path doing no gate work
export LD_LIBRARY_PATH=$PWD/.devlib CUDA_VISIBLE_DEVICES=
BENCH=.devbin/bench_train_step timeout 230 scripts/bench-cpu-peer.sh "2 16" 2>&1 | grep -E "^==|TrainStep|^#|/threads"
