#!/usr/bin/env python3
"""test_compare_results.py: compare_results.py's verdicts on the committed quickstart.

Run by ctest (scripts.compare_results). The committed results/quickstart compared with itself is
identical; a copy with one table cell changed, or one run's weights changed, is reported as
different, naming the size of the table difference or the run.
"""
import csv
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "results" / "quickstart"


def compare(new: Path) -> str:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "compare_results.py"), str(new), str(REFERENCE)],
                          check=True, capture_output=True, text=True).stdout


def main() -> int:
    failures = []
    if not compare(REFERENCE).startswith("compare: identical"):
        failures.append("the reference compared with itself is not identical")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "quickstart"
        shutil.copytree(REFERENCE, copy)
        rows = list(csv.reader((copy / "table.csv").open(newline="")))
        last = rows[1][-1]
        rows[1][-1] = repr(float(last) - 0.25)
        with (copy / "table.csv").open("w", newline="") as f:
            csv.writer(f).writerows(rows)
        out = compare(copy)
        if "largest table difference 0.25" not in out:
            failures.append(f"a cell changed by 0.25 was not reported as such:\n{out}")
        weights = sorted((copy / "runs").glob("*/model.safetensors"))[0]
        raw = bytearray(weights.read_bytes())
        raw[-1] ^= 1
        weights.write_bytes(bytes(raw))
        out = compare(copy)
        if f"run {weights.parent.name}: different weights" not in out:
            failures.append(f"changed weights were not reported:\n{out}")
    for f in failures:
        print("FAIL:", f)
    print("ok" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
