#!/usr/bin/python3
"""Self-test of plot_results.py: fake results folders for each kind, then check the PNGs.

    /usr/bin/python3 plots/test_plot_results.py [--keep DIR]

Each case writes a results folder the way `deltabench run` does (runs.csv in long format, one
runs/<run_id>/result.json per run, NaN as the string "nan"), runs the script in a subprocess and
asserts on its exit code and on the PNGs it leaves. Plain asserts; a failure exits non-zero.
--keep DIR keeps the folders (and PNGs) under DIR for a look.
"""

import csv
import hashlib
import json
import math
import os
import random
import subprocess
import sys
import tempfile

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plot_results.py")
COMMON_CONFIG = {"model.n_layers": "2", "model.mixer.num_heads": "2", "train.batch_size": "64",
                 "train.epochs": "4", "train.weight_decay": "0.1", "train.betas": "[0.9, 0.999]"}


def run_record(config, metrics, curves=None, status="done"):
    config = {**COMMON_CONFIG, **config}
    seed = config.get("seed", "1")
    run_id = "-".join(v for k, v in sorted(config.items()) if k in
                      ("model.mixer.name", "model.d_model", "train.lr", "seed", "task.name"))
    run_id += "-" + hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    return {"run_id": run_id, "status": status, "seed": seed, "config": config,
            "metrics": metrics, "curves": curves or {}}


def write_results(folder, records):
    """runs.csv + runs/<id>/result.json as harness/sweep/results_folder.cpp writes them."""
    config_columns = sorted({k for r in records for k in r["config"]})
    metric_columns = sorted({k for r in records for k in r["metrics"]} - set(config_columns))
    header = ["run_id", "status"] + config_columns + metric_columns + ["num_params", "state_size", "git_sha"]
    os.makedirs(os.path.join(folder, "runs"), exist_ok=True)
    with open(os.path.join(folder, "runs.csv"), "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for r in sorted(records, key=lambda r: r["run_id"]):
            cells = {"run_id": r["run_id"], "status": r["status"], **r["config"],
                     **{k: cell(v) for k, v in r["metrics"].items()}, "num_params": "1000",
                     "state_size": r.get("state_size", "256"), "git_sha": "abc"}
            writer.writerow([cells.get(h, "") for h in header])
    for r in records:
        run_dir = os.path.join(folder, "runs", r["run_id"])
        os.makedirs(run_dir, exist_ok=True)
        curves = {k: [cell(v) if isinstance(v, float) and not math.isfinite(v) else v for v in vs]
                  for k, vs in r["curves"].items()}
        doc = {"run_id": r["run_id"], "status": r["status"], "config": r["config"],
               "metrics": {k: cell(v) if not math.isfinite(v) else v for k, v in r["metrics"].items()},
               "curves": curves}
        with open(os.path.join(run_dir, "result.json"), "w") as f:
            json.dump(doc, f)


def cell(v):
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    return repr(v) if isinstance(v, float) else str(v)


# ---- fake sweeps, one per kind


def mqar_records(rng):
    records = []
    mixers = [({"model.mixer.name": "deltanet", "model.mixer.eigen_range": "[-1.0, 1.0]"}, 1.0),
              ({"model.mixer.name": "deltanet", "model.mixer.eigen_range": "[0.0, 1.0]"}, 0.9),
              ({"model.mixer.name": "linear_attention"}, 0.5),
              ({"model.mixer.name": "softmax_attention", "model.mixer.num_heads": "1"}, 1.0)]
    for seq_len, k in ((64, 4), (256, 16), (512, 64)):
        for mixer, skill in mixers:
            for d in (64, 128, 256, 512):
                for lr in ("0.001", "0.01"):
                    for seed in ("1", "2"):
                        acc = min(1.0, skill * (d / 512) ** (0.3 * seq_len / 256) + rng.uniform(-0.05, 0.0))
                        config = {**mixer, "task.name": "mqar", "task.seq_len": str(seq_len),
                                  "task.num_kv_pairs": str(k), "model.d_model": str(d), "train.lr": lr, "seed": seed}
                        record = run_record(config, {"score": acc, "accuracy": acc})
                        # as the models report it: a matrix per head for the recurrent mixers, the KV cache
                        # for attention
                        heads = 1 if mixer["model.mixer.name"] == "softmax_attention" else 2
                        record["state_size"] = str(2 * seq_len * d if heads == 1 else d * d // heads)
                        records.append(record)
    records.append(run_record({"model.mixer.name": "deltanet", "task.name": "mqar", "task.seq_len": "64",
                               "model.d_model": "64", "train.lr": "0.1", "seed": "1"}, {}, status="failed"))
    return records


def mad_records(rng):
    records = []
    settings = {"in_context_recall": [{"task.vocab_size": "16"}, {"task.vocab_size": "32"}],
                "noisy_in_context_recall": [{"task.vocab_size": "32"}, {"task.frac_noise": "0.4"}],
                "fuzzy_in_context_recall": [{"task.vocab_size": "16"}],
                "selective_copying": [{"task.seq_len": "256"}, {"task.seq_len": "512"}],
                "compression": [{"task.seq_len": "32"}],
                "memorization": [{"task.vocab_size": "256"}, {"task.vocab_size": "512"}]}
    for task, changes in settings.items():
        for change in changes:
            for mixer in ("deltanet", "gated_linear_attention", "softmax_attention"):
                for lr in ("0.0001", "0.0005", "0.001"):
                    for wd in ("0.0", "0.1"):
                        score = rng.uniform(0.2, 1.0)
                        config = {"task.name": task, **change, "model.mixer.name": mixer, "model.d_model": "128",
                                  "train.lr": lr, "train.weight_decay": wd, "seed": "12345"}
                        records.append(run_record(config, {"score": score, "macro_accuracy": score}))
    return records


def length_curve(rng, skill, chance, train_max=40, longest=256):
    acc, count = [], []
    for length in range(1, longest + 1):
        if length < train_max:
            acc.append(float("nan"))
            count.append(0.0)
        else:
            decay = skill * math.exp(-(length - train_max) / 120.0) + (1 - skill) * 0.0
            acc.append(min(1.0, chance + (1 - chance) * decay + rng.uniform(-0.03, 0.03)))
            count.append(float(rng.randint(20, 50)))
    return acc, count


def state_tracking_records(rng):
    records = []
    for task, chance in (("parity", 0.5), ("modular_arithmetic", 0.2), ("modular_arithmetic_brackets", 0.2)):
        for eigen, skill in (("[-1.0, 1.0]", 1.0), ("[0.0, 1.0]", 0.05)):
            for lr in ("0.001", "0.0001"):
                for seed in ("1", "2", "3"):
                    acc, count = length_curve(rng, skill if lr == "0.001" else skill * 0.5, chance)
                    mean = sum(a for a in acc if not math.isnan(a)) / sum(1 for a in acc if not math.isnan(a))
                    config = {"task.name": task, "model.mixer.name": "deltanet", "model.mixer.eigen_range": eigen,
                              "model.d_model": "128", "task.max_length": "40", "train.lr": lr, "seed": seed}
                    if task != "parity":
                        config["task.modulus"] = "5"
                    metrics = {"accuracy": mean, "scaled_accuracy": (mean - chance) / (1 - chance), "score": mean}
                    records.append(run_record(config, metrics, {"accuracy_by_length": acc,
                                                                "accuracy_by_length_count": count}))
    # a run with no curves must only be noted
    records.append(run_record({"task.name": "parity", "model.mixer.name": "softmax_attention", "train.lr": "0.001",
                               "seed": "1"}, {"accuracy": 0.51, "scaled_accuracy": 0.02, "score": 0.51}))
    return records


def word_problem_records(rng):
    records = []
    for group in ("S3", "S5"):
        for eigen in ("[-1.0, 1.0]", "[0.0, 1.0]"):
            for n_h in (1, 2, 3, 4):
                reach = (60 * n_h * (2 if eigen.startswith("[-1") else 0.3)) * (2 if group == "S3" else 1)
                for seed in ("1", "2"):
                    curve = [max(0.0, min(1.0, 1.0 / (1 + math.exp((l - reach) / 15.0)) + rng.uniform(-0.01, 0.01)))
                             for l in range(1, 513)]
                    config = {"task.name": "word_problem", "task.group": group, "task.train_length": "128",
                              "model.mixer.name": "deltaproduct", "model.mixer.householder": str(n_h),
                              "model.mixer.eigen_range": eigen, "train.lr": "0.001", "seed": seed}
                    records.append(run_record(config, {"score": curve[-1], "sequence_accuracy": curve[-1]},
                                              {"prefix_accuracy": curve, "prefix_support": [1000.0] * 512}))
    return records


# ---- running the script


def run_script(folder, *extra):
    proc = subprocess.run([sys.executable, SCRIPT, folder, *extra], capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def assert_pngs(folder, names):
    for name in names:
        path = os.path.join(folder, "plots", name)
        assert os.path.isfile(path), f"missing {path}"
        with open(path, "rb") as f:
            head = f.read(8)
        assert head == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
        assert os.path.getsize(path) > 5000, f"{path} is too small ({os.path.getsize(path)} bytes)"


def check_kind(root, name, records, pngs, kind="auto"):
    folder = os.path.join(root, name)
    write_results(folder, records)
    code, out, err = run_script(folder, "--kind", kind)
    assert code == 0, f"{name}: exit {code}\n{err}"
    assert_pngs(folder, pngs)
    assert len(out.splitlines()) == len(pngs), f"{name}: expected {len(pngs)} lines on stdout, got:\n{out}"
    print(f"ok  {name}: {', '.join(pngs)}" + (f"  [notes: {err.strip()}]" if err.strip() else ""))


def check_edge_cases(root):
    # no runs.csv: nothing to plot, exit 0 with a reason
    empty = os.path.join(root, "empty")
    os.makedirs(empty, exist_ok=True)
    code, out, err = run_script(empty)
    assert code == 0 and "nothing to plot" in err, (code, err)
    # a missing column skips the figure with a note, still exit 0
    broken = os.path.join(root, "no_width")
    records = mqar_records(random.Random(1))
    for r in records:
        r["config"].pop("model.d_model", None)
    write_results(broken, records)
    code, out, err = run_script(broken)
    assert code == 0 and "model.d_model" in err and not out.strip(), (code, out, err)
    assert not os.path.exists(os.path.join(broken, "plots", "mqar_accuracy_vs_width.png"))
    # asking for a kind the folder does not hold
    code, out, err = run_script(broken, "--kind", "mad")
    assert code == 0 and "nothing to plot" in err, (code, err)
    # an unwritable plots folder: a note and exit 1, no traceback
    with open(os.path.join(broken, "plots"), "w"):
        pass
    write_results(broken, mad_records(random.Random(2)))
    code, out, err = run_script(broken)
    assert code == 1 and "mad plots failed" in err and "Traceback" not in err, (code, err)
    # no such folder: an error
    code, _, _ = run_script(os.path.join(root, "does_not_exist"))
    assert code == 2, code
    print("ok  edge cases: no runs.csv, missing column, absent kind, unwritable output, missing folder")


def check_reductions():
    """The label and aggregation rules, on hand-made rows."""
    sys.path.insert(0, os.path.dirname(SCRIPT))
    sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
    import plot_results as pr

    def row(name, d, lr, seed, score, **extra):
        return {"model.mixer.name": name, "model.d_model": d, "train.lr": lr, "seed": seed, "score": score,
                "model.mixer.num_heads": "1" if name == "softmax_attention" else "2", **extra}

    rows = [row("deltanet", "64", "0.001", "1", "0.5", **{"model.mixer.eigen_range": "[-1.0, 1.0]"}),
            row("deltanet", "64", "0.01", "1", "0.7", **{"model.mixer.eigen_range": "[-1.0, 1.0]"}),
            row("deltanet", "64", "0.001", "2", "0.9", **{"model.mixer.eigen_range": "[-1.0, 1.0]"}),
            row("deltanet", "64", "0.001", "1", "0.2", **{"model.mixer.eigen_range": "[0.0, 1.0]"}),
            row("softmax_attention", "64", "0.001", "1", "nan")]
    label = pr.mixer_labeller(rows, ["model.d_model"])
    assert [label(r) for r in rows] == ["deltanet [-1, 1]"] * 3 + ["deltanet [0, 1]", "softmax_attention"], \
        [label(r) for r in rows]
    points = pr.best_then_mean(rows, lambda r: label(r), "score")
    # seed 1 best 0.7, seed 2 0.9 -> mean 0.8 over 2 seeds; a NaN score is no point at all
    assert abs(points["deltanet [-1, 1]"][0] - 0.8) < 1e-12 and points["deltanet [-1, 1]"][1] == 2, points
    assert "softmax_attention" not in points, points
    # median over seeds: lr 0.001 -> median(0.5, 0.9, 0.8) = 0.8 beats lr 0.01 -> 0.7; then its best seed
    picked = pr.pick_run(rows[:3] + [row("deltanet", "64", "0.001", "3", "0.8")], "score")
    assert picked["train.lr"] == "0.001" and picked["score"] == "0.9", picked
    assert pr.format_value("[-1.0, 1.0]") == "[-1, 1]" and pr.format_value("0.0010") == "0.001"
    assert pr.number("nan") is None and pr.number("") is None and pr.number("1e-3") == 0.001
    xs, ys = pr.binned_length_curve([None, 0.5, 1.0], [0, 2, 2], chance=0.5)
    assert xs == [2.0, 3.0] and ys == [0.0, 1.0], (xs, ys)
    print("ok  labels and reductions")


def check_prefix_accuracy_table(root):
    """prefix_accuracy_table.py reads the stored curves at the asked lengths and averages the seeds."""
    folder = os.path.join(root, "prefix_table")
    records = word_problem_records(random.Random(1))
    write_results(folder, records)
    script = os.path.join(os.path.dirname(SCRIPT), "prefix_accuracy_table.py")
    proc = subprocess.run([sys.executable, script, folder, "--at", "1", "480"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    line = next(l for l in proc.stdout.splitlines() if l.startswith("| 2 | [-1.0, 1.0] |"))
    cell_s3 = line.split("|")[3].strip()  # columns: n_h, eigen_range, S3, S5
    want = [sum(r["curves"]["prefix_accuracy"][l - 1] for r in records
                if r["config"]["task.group"] == "S3" and r["config"]["model.mixer.householder"] == "2"
                and r["config"]["model.mixer.eigen_range"] == "[-1.0, 1.0]") / 2 for l in (1, 480)]
    assert cell_s3 == f"{want[0]:.2f} / {want[1]:.2f}", (cell_s3, want)
    print("ok  prefix_accuracy_table")


def main():
    keep = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
    with tempfile.TemporaryDirectory() as tmp:
        root = keep or tmp
        os.makedirs(root, exist_ok=True)
        check_reductions()
        rng = random.Random(0)
        check_kind(root, "mqar", mqar_records(rng), ["mqar_accuracy_vs_width.png", "mqar_accuracy_vs_state_size.png"])
        check_kind(root, "mad", mad_records(rng), ["mad_scores.png"])
        check_kind(root, "state_tracking", state_tracking_records(rng),
                   ["state_tracking_by_length.png", "state_tracking_scaled_accuracy.png"])
        check_kind(root, "word_problems", word_problem_records(rng), ["word_problems_prefix_accuracy.png"],
                   kind="word_problems")
        check_kind(root, "mixed", mqar_records(rng) + word_problem_records(rng),
                   ["mqar_accuracy_vs_width.png", "mqar_accuracy_vs_state_size.png", "word_problems_prefix_accuracy.png"])
        check_edge_cases(root)
        check_prefix_accuracy_table(root)
    print("all plot_results self-tests passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
