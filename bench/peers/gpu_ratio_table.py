#!/usr/bin/env python3
"""gpu_ratio_table.py: the table scripts/bench-gpu-peer.sh prints, from the two measurements it made.

    python3 bench/peers/gpu_ratio_table.py OURS_JSON FLA_TXT

OURS_JSON is bench_gpu_train_step's --benchmark_out (JSON), FLA_TXT what bench/peers/fla_speed.py
printed (`name tokens_per_s value` lines). One Markdown row per (step, precision, width) and one for
the kernel: deltabench's tokens/s, its fraction of the GPU's measured GEMM rate of that precision,
fla's tokens/s and the ratio. fla's bf16 figure is the yardstick of both of our precisions.
"""
import json
import re
import sys


def read_ours(path):
    rows = {}
    for b in json.load(open(path))["benchmarks"]:
        m = re.match(r"(TrainStep|TrainStepBf16|TrainStepEager)/deltanet/d:(\d+)", b["name"])
        if m:
            kind = {"TrainStep": "fp32 graph", "TrainStepBf16": "bf16 graph", "TrainStepEager": "fp32 eager"}[m[1]]
            rows[("train_step", kind, int(m[2]))] = (b["tokens/s"], b["GFLOP/s"] / b["gemm_GFLOP/s"])
        elif b["name"].startswith("DeltaRuleKernel"):
            rows[("kernel", "fp32", 0)] = (b["tokens/s"], None)
    return rows


def read_fla(path):
    fla = {}
    for line in open(path):
        parts = line.split()
        if len(parts) == 3 and parts[1] == "tokens_per_s":
            fla[parts[0]] = float(parts[2])
    return fla


def main():
    ours, fla = read_ours(sys.argv[1]), read_fla(sys.argv[2])
    print("\n| measurement | deltabench tokens/s | fraction of GEMM rate | fla bf16 tokens/s | ratio |")
    print("|---|---:|---:|---:|---:|")
    for (what, kind, d), (rate, fraction) in sorted(ours.items()):
        peer = fla.get(f"train_step/bf16/d{d}") if what == "train_step" else fla.get("chunk_delta_rule/bf16")
        name = f"training step, {kind}, d {d}" if what == "train_step" else "delta-rule kernel fwd+bwd (ours fp32)"
        frac = f"{fraction:.3f}" if fraction is not None else ""
        ratio = f"{rate / peer:.2f}x" if peer else "n/a"
        peer_text = f"{peer:,.0f}" if peer else "n/a"
        print(f"| {name} | {rate:,.0f} | {frac} | {peer_text} | {ratio} |")
    for name in sorted(k for k in fla if "/fp32/" in k):
        print(f"| fla {name} (fp32) | | | {fla[name]:,.0f} | |")


if __name__ == "__main__":
    main()
