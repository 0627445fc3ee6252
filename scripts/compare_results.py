#!/usr/bin/env python3
"""compare_results.py: does a fresh results folder equal a committed one, bit for bit?

Usage: scripts/compare_results.py NEW REFERENCE

Compares what a run's result is made of: each run's weights (model.safetensors' tensors), its curve.csv
without the wall-clock columns, and the table's cells. Prints one verdict line, and where they
differ, which runs and by how much (largest table difference in the table's own units). Exits 0 in
both cases: a different CPU family or compiler flavour may legitimately round differently; the
verdict says so rather than failing.
"""
import csv
import hashlib
import json
import sys
from pathlib import Path

TIMING_COLUMNS = {"tokens_per_s", "train_seconds"}


def tensors_digest(path: Path) -> str:
    """SHA-256 of a safetensors file's tensors (names, dtypes, shapes, bytes), without __metadata__,
    which records the commit and build that wrote it rather than the weights."""
    raw = path.read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + header_len])
    header.pop("__metadata__", None)
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    digest.update(raw[8 + header_len:])
    return digest.hexdigest()


def curve_without_timing(path: Path) -> list:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return rows
    keep = [i for i, name in enumerate(rows[0]) if name not in TIMING_COLUMNS]
    return [[row[i] for i in keep] for row in rows]


def table_cells(path: Path) -> dict:
    """{(row labels, column): value}. The leading columns are the row labels (the report's rows keys,
    named plainly); the value columns are named key=value."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    labels = next((i for i, name in enumerate(header) if "=" in name), len(header))
    cells = {}
    for row in rows[1:]:
        for name, value in zip(header[labels:], row[labels:]):
            cells[(tuple(row[:labels]), name)] = value
    return cells


def cell_difference(a: str, b: str) -> float:
    try:
        return abs(float(a) - float(b))
    except ValueError:  # an empty cell (no run) on one side
        return 0.0 if a == b else float("inf")


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
        if tensors_digest(a / "model.safetensors") != tensors_digest(b / "model.safetensors"):
            problems.append(f"run {name}: different weights")
        elif curve_without_timing(a / "curve.csv") != curve_without_timing(b / "curve.csv"):
            problems.append(f"run {name}: same weights, different curve")
    new_cells, ref_cells = table_cells(new / "table.csv"), table_cells(ref / "table.csv")
    if not problems and new_cells == ref_cells:
        print(f"compare: identical to {ref} bit for bit ({len(new_runs)} runs' weights and curves, every table cell)")
        return 0
    if set(new_cells) != set(ref_cells):
        table_text = "the tables have different rows or columns"
    else:
        largest = max(cell_difference(new_cells[k], ref_cells[k]) for k in new_cells)
        table_text = f"largest table difference {largest:.4g}"
    print(f"compare: differs from {ref}: {table_text}; {len(problems)} of {len(set(new_runs) | set(ref_runs))} runs differ")
    for p in problems:
        print(f"  {p}")
    print(f"  builds: this run {build_of(new)}; committed {build_of(ref)}")
    print("  (bit-identical results need the same build flavour; see README, Reproducibility)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
