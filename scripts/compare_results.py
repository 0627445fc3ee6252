#!/usr/bin/env python3
"""compare_results.py: does a fresh results folder equal a committed one, bit for bit?

Usage: scripts/compare_results.py NEW REFERENCE

Compares what a run's result is made of: each run's model.safetensors (by SHA-256), its curve.csv
without the wall-clock columns, and the table's cells. Prints one verdict line, and where they
differ, which runs and by how much (largest table difference in the table's own units). Exits 0 in
both cases: a different CPU family or compiler flavour may legitimately round differently; the
verdict says so rather than failing.
"""
import csv
import hashlib
import sys
from pathlib import Path

TIMING_COLUMNS = {"tokens_per_s", "train_seconds"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def curve_without_timing(path: Path) -> list:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return rows
    keep = [i for i, name in enumerate(rows[0]) if name not in TIMING_COLUMNS]
    return [[row[i] for i in keep] for row in rows]


def table_cells(path: Path) -> dict:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    cells = {}
    for row in rows[1:]:
        for name, value in zip(rows[0][1:], row[1:]):
            cells[(row[0], name)] = value
    return cells


def build_of(folder: Path) -> str:
    with (folder / "runs.csv").open(newline="") as f:
        builds = {row.get("build", "") for row in csv.DictReader(f)}
    return ", ".join(sorted(b or "unrecorded" for b in builds))


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    new, ref = Path(sys.argv[1]), Path(sys.argv[2])
    for folder in (new, ref):
        if not (folder / "runs").is_dir():
            print(f"compare: {folder}: no runs/ folder", file=sys.stderr)
            return 2
    new_runs = {p.name: p for p in (new / "runs").iterdir() if p.is_dir()}
    ref_runs = {p.name: p for p in (ref / "runs").iterdir() if p.is_dir()}
    problems = []
    for name in sorted(set(new_runs) | set(ref_runs)):
        if name not in ref_runs or name not in new_runs:
            problems.append(f"run {name} is only in {new if name in new_runs else ref}")
            continue
        a, b = new_runs[name], ref_runs[name]
        if sha256(a / "model.safetensors") != sha256(b / "model.safetensors"):
            problems.append(f"run {name}: different weights")
        elif curve_without_timing(a / "curve.csv") != curve_without_timing(b / "curve.csv"):
            problems.append(f"run {name}: same weights, different curve")
    new_cells, ref_cells = table_cells(new / "table.csv"), table_cells(ref / "table.csv")
    largest = 0.0
    for key in set(new_cells) | set(ref_cells):
        try:
            largest = max(largest, abs(float(new_cells.get(key, "nan")) - float(ref_cells.get(key, "nan"))))
        except ValueError:
            largest = float("inf")
    if not problems and new_cells == ref_cells:
        print(f"compare: identical to {ref} bit for bit ({len(new_runs)} runs' weights and curves, every table cell)")
        return 0
    print(f"compare: differs from {ref}: largest table difference {largest:.1f}; {len(problems)} of {len(ref_runs)} runs differ")
    for p in problems:
        print(f"  {p}")
    print(f"  builds: this run {build_of(new)}; committed {build_of(ref)}")
    print("  (bit-identical results need the same build flavour; see README, Reproducibility)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
