#!/usr/bin/env bash
# test.sh: set up, build and run every test (the README's second Quick start command; CI runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
