#!/usr/bin/env bash
# quickstart.sh: set up, build and run the default experiment (the README's first Quick start
# command): a small MQAR sweep, trained from scratch every time into out/quickstart/ (ignored by
# git), its table, and how it compares with the committed results/quickstart/.
#   usage: scripts/quickstart.sh [extra `deltabench run` flags]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
out=out/quickstart
rm -rf "$out"
build/deltabench run experiments/quickstart.yaml --out "$out" --jobs 2 "$@"
build/deltabench table "$out"
python3 scripts/compare_results.py "$out" results/quickstart
