#!/usr/bin/env python3
"""ncu-step-summary.py: one training step's GPU time by kernel, from an ncu CSV of bench_gpu_train_step.

The CSV is what
    ncu --clock-control none --metrics gpu__time_duration.sum --csv --print-units base --launch-count N \\
        build/bench_gpu_train_step --benchmark_filter='<TrainStep...>/deltanet/d:128/' --benchmark_min_time=0.01
prints: the benchmark's first (eager) warm-up step comes first. The step is cut from the first
embedding gather (with the weight rounding just before it, in a bf16 run) to the next one; its
kernels are grouped by name (cuBLAS's kernels under one name) and printed largest first as a
markdown table of microseconds, share of the step and launch count.

    python3 scripts/ncu-step-summary.py <ncu csv> [--top 20]
"""
import argparse
import collections
import csv


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    lines = open(args.csv).read().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith('"ID"'))
    rows = list(csv.reader(lines[start:]))
    header = rows[0]
    name_col, value_col = header.index("Kernel Name"), header.index("Metric Value")
    kernels = [(r[name_col], float(r[value_col].replace(",", ""))) for r in rows[1:] if len(r) == len(header)]
    gathers = [i for i, (name, _) in enumerate(kernels) if "gather_embedding_rows" in name]
    # a bf16 step starts with the rounding of the weights, one kernel before its gather
    lead = 1 if gathers[0] > 0 and "convert_kernel" in kernels[gathers[0] - 1][0] else 0
    first = gathers[0] - lead
    last = gathers[1] - lead if len(gathers) > 1 else len(kernels)
    step = kernels[first:last]
    total = sum(t for _, t in step)
    groups = collections.defaultdict(lambda: [0, 0.0])
    for name, t in step:
        key = name.split("(")[0].replace("void ", "").replace("db::<unnamed>::", "")
        if key.startswith("nvjet") or "gemm" in key.lower() or "splitKreduce" in key:
            key = "cuBLAS GEMM kernels"
        groups[key][0] += 1
        groups[key][1] += t
    print(f"step: {len(step)} kernels, {total / 1e3:.1f} us\n")
    print("| kernel | us | share | launches |\n|---|---:|---:|---:|")
    for key, (count, t) in sorted(groups.items(), key=lambda kv: -kv[1][1])[: args.top]:
        print(f"| {key} | {t / 1e3:.1f} | {100 * t / total:.1f}% | {count} |")


if __name__ == "__main__":
    main()
