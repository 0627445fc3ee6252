#!/usr/bin/env bash
# setup.sh: install (if missing) the Debian packages deltabench builds with, then configure and
# build into build/. Safe to run repeatedly; does nothing slow when everything is in place.
#   usage: scripts/setup.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build git libeigen3-dev libcli11-dev libfmt-dev libyaml-cpp-dev
          libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev python3 python3-matplotlib)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >&2
cmake --build build -j"$(nproc)" >&2
