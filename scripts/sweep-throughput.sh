#!/bin/bash
# sweep-throughput.sh: how a machine should split its cores between the runs of a sweep.
#
# Trains experiments/probes/sweep_throughput.yaml (16 quick-profile-sized MQAR runs of 150 steps)
# once per split: --jobs J for J = cores, cores/2, cores/4 and 1 (cores/J threads each), and prints the
# aggregate training tokens/s of each (16 x 150 x 64 x 128 tokens over the wall time), the process's
# peak resident memory, and whether every split gave the same scores and losses (it must: results do
# not depend on the thread count).
#
# usage: scripts/sweep-throughput.sh [OUT_DIR] [DELTABENCH]   (defaults: out/sweep_throughput, build/deltabench)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/sweep_throughput}
bin=${2:-build/deltabench}
cores=$(nproc)
mkdir -p "$out"
: > "$out/jobs.txt"
for jobs in $cores $((cores / 2)) $((cores / 4)) 1; do
  [ "$jobs" -ge 1 ] || continue
  rm -rf "$out/runs_j$jobs"
  python3 - "$bin" "$jobs" "$cores" "$out" <<'PY' | tee -a "$out/jobs.txt"
import resource, subprocess, sys, time
binary, jobs, cores, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
start = time.time()
subprocess.run([binary, "run", "experiments/probes/sweep_throughput.yaml", "--jobs", str(jobs), "--quiet",
                "--out", f"{out}/runs_j{jobs}"], check=True)
wall = time.time() - start
peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
tokens = 16 * 150 * 64 * 128
print(f"jobs {jobs} x threads {cores // jobs}: wall {wall:.1f} s, aggregate {tokens / wall:.0f} tokens/s, "
      f"peak resident memory {peak_mib:.0f} MiB ({peak_mib / jobs:.0f} MiB per job)")
PY
done
python3 - "$out" "$cores" <<'PY' | tee -a "$out/jobs.txt"
import csv, glob, sys
out = sys.argv[1]
def load(folder):
    return {r["run_id"]: (r["score"], r["test_loss"]) for r in csv.DictReader(open(f"{folder}/runs.csv"))}
folders = sorted(glob.glob(f"{out}/runs_j*"))
base = load(folders[0])
for f in folders[1:]:
    print(f"{f}: {len(base)} runs, scores and test losses identical to {folders[0]}: {load(f) == base}")
PY
