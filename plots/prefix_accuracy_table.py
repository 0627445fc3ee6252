#!/usr/bin/env python3
"""prefix_accuracy_table.py: a markdown table of word-problem sequence accuracy at chosen prefix lengths.

The runs' `score` is the all-correct accuracy at the full test length; the DeltaProduct README's
criterion ("n_h = 2 solves S3") is the same accuracy at the *training* length. Both are points of the
`prefix_accuracy` curve each run stores in result.json (index l-1 = prefixes of l elements), so this
reads that curve rather than asking the harness for a new metric.

usage: plots/prefix_accuracy_table.py RESULTS_DIR [--at 32 128]
rows: (n_h, eigenvalue range); columns: group; cell: accuracies at each --at length, joined by " / ",
each the mean over the cell's runs (seeds) when there are several.
"""
import argparse
import csv
import json
import os
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="results folder holding runs.csv and runs/<run_id>/result.json")
    parser.add_argument("--at", type=int, nargs="+", default=None,
                        help="prefix lengths (default: the training length and the test length)")
    args = parser.parse_args()

    with open(os.path.join(args.results, "runs.csv"), newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "done"]
    if not rows:
        sys.exit(f"{args.results}: no finished runs in runs.csv")

    cells, groups = {}, set()
    for r in rows:
        with open(os.path.join(args.results, "runs", r["run_id"], "result.json")) as f:
            curve = json.load(f)["curves"]["prefix_accuracy"]
        lengths = args.at or [int(r["task.train_length"]), int(r["task.test_length"])]
        values = [curve[min(l, len(curve)) - 1] for l in lengths]
        key = (int(r["model.mixer.householder"]), r["model.mixer.eigen_range"])
        cells.setdefault((key, r["task.group"]), []).append(values)
        groups.add(r["task.group"])
    cells = {k: " / ".join(f"{sum(col) / len(col):.2f}" for col in zip(*runs)) for k, runs in cells.items()}

    groups = sorted(groups)
    at = " / ".join(str(l) for l in args.at) if args.at else "train length / test length"
    print(f"sequence accuracy at prefix length {at}\n")
    print("| n_h | eigen_range | " + " | ".join(groups) + " |")
    print("|---|---|" + "---|" * len(groups))
    for key in sorted({k for k, _ in cells}):
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells.get((key, g), "") for g in groups) + " |")


if __name__ == "__main__":
    main()
