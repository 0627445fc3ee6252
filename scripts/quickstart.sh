#!/usr/bin/env bash
# quickstart.sh: set up, build and run the default experiment (the README's first Quick start
# command): a small MQAR sweep that prints its table and writes results/quickstart/.
#   usage: scripts/quickstart.sh [extra `deltabench run` flags, e.g. --jobs 2]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/deltabench run experiments/quickstart.yaml --profile quick --jobs 2 "$@"
build/deltabench table results/quickstart
