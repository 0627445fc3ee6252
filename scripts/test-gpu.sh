#!/usr/bin/env bash
# test-gpu.sh: on a machine with an NVIDIA GPU and the CUDA toolkit (nvcc >= 12), build with the CUDA
# backend required and run the GPU tests (ctest label "gpu": the GPU path against the CPU path).
# Elsewhere these tests are compiled by scripts/test.sh and skip.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh -DDELTABENCH_CUDA=ON
nvidia-smi -L
ctest --test-dir build -L gpu --output-on-failure
