#!/usr/bin/python3
"""plot_results.py: draw the paper-shaped figures of a deltabench results folder.

    /usr/bin/python3 plots/plot_results.py RESULTS_DIR [--out DIR] [--kind auto|mqar|mad|state_tracking|word_problems]

Reads RESULTS_DIR/runs.csv (one row per run, written by `deltabench run`; see harness/sweep/results_folder.cpp) and,
for the curves, RESULTS_DIR/runs/<run_id>/result.json. Only rows with status "done" count. PNGs go to
RESULTS_DIR/plots/ unless --out says otherwise. Why: a sweep's numbers are easiest to check against the
published figures (docs/task-protocols.md) when they are drawn the same way:

  mqar            accuracy (score) vs model.d_model on a log2 axis, one panel per task.seq_len (or per
                  (seq_len, num_kv_pairs) pair), one line per mixer label; best over train.lr for each
                  seed, then the mean over seeds (Zoology Fig. 2, DeltaNet Fig. 2). A second figure puts
                  the same points against each run's recurrent state size (runs.csv state_size), Zoology's
                  headline view of which mixer recalls most per number of state.
  mad             grouped bars per MAD task, one bar per mixer label; a task's score is the mean over its
                  settings of the best run over lr x weight_decay (per seed, then the mean over seeds),
                  plus the average over tasks (Poli et al.; DeltaNet Fig. 3).
  state_tracking  scaled accuracy vs test length (the accuracy_by_length curve, rescaled by chance) per
                  mixer label, one panel per task.name, and bars of the overall scaled accuracy; the run
                  shown is the best seed at the hyper-parameters with the best median (Grazzi et al.).
  word_problems   sequence accuracy vs prefix length (the prefix_accuracy curve), one line per householder
                  n_h, one panel per (task.group, eigen_range); same run choice (DeltaProduct Fig. 1).

A mixer label is model.mixer.name plus whichever model settings tell variants of that mixer apart in
this folder (e.g. "deltanet [-1, 1]", "deltaproduct [-1, 1] n_h=2"): a model.* column joins the label
when it takes several values among runs of one mixer that share the panel and x-axis values.

Missing columns or curves skip that one figure with a note on stderr; nothing to plot exits 0 with
the reason. Each PNG written is printed on stdout. Exit 1 when a figure could not be drawn or saved
(the others are still drawn), 2 when RESULTS_DIR is not a folder. Only the standard library and
matplotlib are used.
"""

import argparse
import csv
import json
import math
import os
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

# which task.name values belong to which kind, in the order the papers list them
KIND_TASKS = {
    "mqar": ("mqar",),
    "mad": ("compression", "fuzzy_in_context_recall", "in_context_recall", "memorization",
            "noisy_in_context_recall", "selective_copying"),
    "state_tracking": ("parity", "modular_arithmetic", "modular_arithmetic_brackets"),
    "word_problems": ("word_problem",),
}
KINDS = tuple(KIND_TASKS)

# the column names of the DeltaNet paper's MAD table
MAD_SHORT_NAMES = {
    "compression": "Compress", "fuzzy_in_context_recall": "Fuzzy", "in_context_recall": "ICR",
    "memorization": "Memorize", "noisy_in_context_recall": "Noisy", "selective_copying": "SelCopy",
}

# how a distinguishing model column is written in a mixer label ("" = the bare value)
LABEL_PREFIX = {"model.mixer.eigen_range": "", "model.mixer.householder": "n_h="}

CONFIG_PREFIXES = ("model.", "task.", "train.")
MIXER_NAME = "model.mixer.name"
EIGEN = "model.mixer.eigen_range"
HOUSEHOLDER = "model.mixer.householder"
MAX_LENGTH_POINTS = 48  # state-tracking curves are binned to about this many points
DPI = 120


# ---------------------------------------------------------------------------------------------
# small helpers


def note(message):
    print(f"plot_results: {message}", file=sys.stderr)


def number(cell):
    """A runs.csv / result.json value as a float, or None when empty, not a number, or NaN."""
    if cell is None or cell == "":
        return None
    try:
        value = float(cell)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def sort_key(value):
    """Numbers in numeric order before text; for sorting panel and x values given as cells."""
    if isinstance(value, tuple):
        return tuple(sort_key(v) for v in value)
    n = number(value)
    return (0, n, "") if n is not None else (1, 0.0, str(value))


def format_value(cell):
    """A config cell for a title or legend: 1e-3 stays, "[-1.0, 1.0]" becomes "[-1, 1]"."""
    try:
        parsed = json.loads(cell)
    except (TypeError, ValueError):
        return str(cell)
    if isinstance(parsed, list) and all(isinstance(v, (int, float)) for v in parsed):
        return "[" + ", ".join(f"{v:g}" for v in parsed) + "]"
    if isinstance(parsed, float):
        return f"{parsed:g}"
    return str(cell)


def short_column(column):
    return column.split(".")[-1]


def config_columns(rows):
    columns = set()
    for row in rows:
        columns.update(c for c in row if c.startswith(CONFIG_PREFIXES))
    return columns


def save(fig, out_dir, name):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name)
    partial = f"{path}.{os.getpid()}.tmp"  # shards of one sweep may plot at once: never show half a file
    fig.savefig(partial, dpi=DPI, bbox_inches="tight", format="png")
    plt.close(fig)
    os.replace(partial, path)
    print(path)
    return path


def panel_grid(count, width=4.2, height=3.4, max_cols=4):
    rows = (count + max_cols - 1) // max_cols
    cols = (count + rows - 1) // rows  # 4 panels at most 3 a row: 2 x 2, not 3 + 1
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = [ax for line in axes for ax in line]
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def colors_for(labels):
    cmap = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")
    return {label: cmap(i % cmap.N) for i, label in enumerate(labels)}


def figure_legend(fig, axes, title="mixer"):
    """One legend for the whole figure, right of the panels, with every label drawn in any panel."""
    seen = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    if seen:
        fig.legend(list(seen.values()), list(seen), loc="center left", bbox_to_anchor=(1.0, 0.5),
                   frameon=False, title=title)


# ---------------------------------------------------------------------------------------------
# reading a results folder


def read_done_rows(results_dir):
    """The status == done rows of runs.csv as dicts (plus "_dir", the run folder), or None when absent."""
    path = os.path.join(results_dir, "runs.csv")
    if not os.path.isfile(path):
        return None
    with open(path, newline="", encoding="utf-8") as f:
        rows = [row for row in csv.DictReader(f) if row.get("status") == "done"]
    for row in rows:
        row["_dir"] = os.path.join(results_dir, "runs", row.get("run_id", ""))
    return rows


def load_curve(row, name):
    """A curve of the run's result.json as floats (NaN kept, as None), or None when missing."""
    path = os.path.join(row["_dir"], "result.json")
    try:
        with open(path, encoding="utf-8") as f:
            curves = json.load(f).get("curves", {})
    except (OSError, ValueError):
        return None
    values = curves.get(name)
    if not isinstance(values, list) or not values:
        return None
    return [number(v) for v in values]


def kind_of(task_name):
    for kind, tasks in KIND_TASKS.items():
        if task_name in tasks:
            return kind
    return None


def rows_by_kind(rows, wanted):
    """{kind: rows} for the kinds to plot: every kind found (auto) or only the one asked for."""
    found = defaultdict(list)
    unknown = set()
    for row in rows:
        kind = kind_of(row.get("task.name", ""))
        if kind is None:
            unknown.add(row.get("task.name", "") or "(no task.name)")
        else:
            found[kind].append(row)
    if unknown and wanted == "auto":
        note(f"no plot for task(s) {', '.join(sorted(unknown))}")
    if wanted != "auto":
        return {wanted: found[wanted]} if found.get(wanted) else {}
    return dict(found)


# ---------------------------------------------------------------------------------------------
# mixer labels and reductions


def mixer_labeller(rows, fixed_columns, exclude=()):
    """row -> mixer label. A model.* column joins the labels of a mixer when it takes several values
    among that mixer's runs that agree on `fixed_columns` (the panel and x-axis columns)."""
    candidates = sorted(c for c in config_columns(rows)
                        if c.startswith("model.") and c != MIXER_NAME and c not in fixed_columns
                        and c not in exclude)
    seen = defaultdict(lambda: defaultdict(set))  # (mixer, fixed values) -> column -> values
    for row in rows:
        group = (row.get(MIXER_NAME, ""),) + tuple(row.get(c, "") for c in fixed_columns)
        for c in candidates:
            seen[group][c].add(row.get(c, ""))
    distinguishing = defaultdict(set)  # mixer -> columns
    for group, values in seen.items():
        distinguishing[group[0]].update(c for c, v in values.items() if len(v) > 1)
    # mixer columns first (eigen_range, householder, ...), then other model settings
    order = sorted({c for cs in distinguishing.values() for c in cs},
                   key=lambda c: (not c.startswith("model.mixer."), c))

    def label(row):
        name = row.get(MIXER_NAME, "") or "(no mixer)"
        parts = [name]
        for c in order:
            if c in distinguishing[name] and row.get(c, "") != "":
                prefix = LABEL_PREFIX.get(c, short_column(c) + "=")
                parts.append(prefix + format_value(row[c]))
        return " ".join(parts)

    return label


def note_mixed(rows, group_of, reduced, what):
    """Warn once when runs of one plotted group differ in a config column that is not reduced on
    purpose (the max would then silently pick between unrelated runs)."""
    columns = sorted(config_columns(rows) - set(reduced))
    values = defaultdict(lambda: defaultdict(set))
    for row in rows:
        for c in columns:
            values[group_of(row)][c].add(row.get(c, ""))
    mixed = sorted({c for per in values.values() for c, v in per.items() if len(v) > 1})
    if mixed:
        note(f"{what}: runs of one point also differ in {', '.join(mixed)}; taking the best of them")


def best_then_mean(rows, group_of, value_column):
    """{group: (mean over seeds of the best value within (group, seed)), seeds}"""
    best = {}
    for row in rows:
        value = number(row.get(value_column))
        if value is None:
            continue
        key = (group_of(row), row.get("seed", ""))
        best[key] = max(best.get(key, -math.inf), value)
    per_group = defaultdict(list)
    for (group, _), value in best.items():
        per_group[group].append(value)
    return {g: (statistics.fmean(v), len(v)) for g, v in per_group.items()}


def pick_run(rows, value_column):
    """Grazzi et al.'s choice: the training hyper-parameters with the best median over seeds, then
    the best seed there. Returns the row, or None when no row has the value."""
    by_hparams = defaultdict(list)
    train_columns = sorted(c for c in config_columns(rows) if c.startswith("train."))
    for row in rows:
        if number(row.get(value_column)) is not None:
            by_hparams[tuple(row.get(c, "") for c in train_columns)].append(row)
    if not by_hparams:
        return None
    best_group = max(by_hparams.values(),
                     key=lambda g: statistics.median(number(r[value_column]) for r in g))
    return max(best_group, key=lambda r: number(r[value_column]))


def required(rows, columns, what):
    missing = [c for c in columns if not any(row.get(c, "") != "" for row in rows)]
    if missing:
        note(f"skipping {what}: runs.csv has no {', '.join(missing)}")
    return not missing


def score_column(rows, preferred=("score", "accuracy")):
    for c in preferred:
        if any(number(row.get(c)) is not None for row in rows):
            return c
    return None


# ---------------------------------------------------------------------------------------------
# MQAR: accuracy vs width


def mqar_panel_columns(rows):
    """task.seq_len, plus task.num_kv_pairs when one seq_len holds several K."""
    ks = defaultdict(set)
    for row in rows:
        ks[row.get("task.seq_len", "")].add(row.get("task.num_kv_pairs", ""))
    several = any(len(k) > 1 for k in ks.values())
    return ["task.seq_len", "task.num_kv_pairs"] if several else ["task.seq_len"]


def mqar_panel_title(columns, values, rows_of_panel):
    seq_len = values[0]
    ks = {row.get("task.num_kv_pairs", "") for row in rows_of_panel} - {""}
    k = values[1] if len(columns) > 1 else (next(iter(ks)) if len(ks) == 1 else None)
    return f"seq_len {seq_len}" + (f", {k} KV pairs" if k else "")


def plot_mqar(rows, out_dir):
    if not required(rows, ["task.seq_len", "model.d_model", MIXER_NAME], "the MQAR plot"):
        return []
    value = score_column(rows)
    if value is None:
        note("skipping the MQAR plot: no score or accuracy column")
        return []
    panels = mqar_panel_columns(rows)
    fixed = panels + ["model.d_model"]
    label_of = mixer_labeller(rows, fixed)
    point_of = lambda r: (tuple(r.get(c, "") for c in panels), label_of(r), r.get("model.d_model", ""))
    note_mixed(rows, point_of, fixed + ["train.lr", "seed"] + [c for c in config_columns(rows) if c.startswith("model.")],
               "MQAR")
    points = best_then_mean(rows, point_of, value)
    if not points:
        note("skipping the MQAR plot: no run has a score")
        return []
    # a point's recurrent state size (Zoology's x-axis): the same for every run of one mixer and width
    state_of = {}
    for row in rows:
        if number(row.get("state_size")) is not None:
            state_of[point_of(row)] = number(row.get("state_size"))
    written = [draw_mqar(points, value, lambda p: number(p[2]), "model dimension (d_model)", "model width",
                         rows, panels, point_of, out_dir, "mqar_accuracy_vs_width.png")]
    if all(p in state_of for p in points):
        written.append(draw_mqar(points, value, lambda p: state_of[p], "recurrent state size (numbers per sequence)",
                                 "recurrent state size", rows, panels, point_of, out_dir,
                                 "mqar_accuracy_vs_state_size.png"))
    else:
        note("skipping the MQAR state-size plot: runs.csv has no state_size for some runs")
    return written


def draw_mqar(points, value, x_of, x_label, x_title, rows, panels, point_of, out_dir, name):
    """One panel per (seq_len[, K]), one line per mixer label through its widths, x from x_of(point)
    on a log2 axis: accuracy vs width (Zoology Fig. 2) or vs state size (Zoology's headline view)."""
    panel_values = sorted({p[0] for p in points}, key=sort_key)
    labels = sorted({p[1] for p in points})
    colors = colors_for(labels)
    seeds = max(n for _, n in points.values())
    metric = "accuracy" if value == "score" else value  # MQAR's score is its query accuracy

    fig, axes = panel_grid(len(panel_values))
    for ax, pv in zip(axes, panel_values):
        xs_seen = set()
        for label in labels:
            mine = sorted((p for p in points if p[0] == pv and p[1] == label and number(p[2]) is not None),
                          key=lambda p: number(p[2]))
            if not mine:
                continue
            xs = [x_of(p) for p in mine]
            xs_seen.update(xs)
            ax.plot(xs, [points[p][0] for p in mine], marker="o", color=colors[label], label=label)
        ax.set_xscale("log", base=2)
        ticks = sorted(xs_seen)
        if len(ticks) <= 8:
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{t / 1024:g}k" if t >= 1024 else f"{t:g}" for t in ticks], rotation=30)
            ax.minorticks_off()
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.set_title(mqar_panel_title(panels, pv, [r for r in rows if point_of(r)[0] == pv]))
        ax.set_xlabel(x_label)
        ax.set_ylabel(metric)
    fig.suptitle(f"MQAR: {metric} vs {x_title} (best over train.lr, mean over {seeds} seed(s))")
    figure_legend(fig, axes)
    fig.tight_layout()
    return save(fig, out_dir, name)


# ---------------------------------------------------------------------------------------------
# MAD: per-task bars


def mad_scores(rows, label_of, value):
    """{(task, label): (score, settings)}: per setting the best over lr x wd (mean over seeds), then the
    mean over the task's settings."""
    task_columns = sorted(c for c in config_columns(rows) if c.startswith("task."))
    setting_of = lambda r: tuple(r.get(c, "") for c in task_columns)
    per_setting = best_then_mean(rows, lambda r: (r.get("task.name", ""), label_of(r), setting_of(r)), value)
    collected = defaultdict(list)
    for (task, label, _), (mean, _) in per_setting.items():
        collected[(task, label)].append(mean)
    return {k: (statistics.fmean(v), len(v)) for k, v in collected.items()}


def grouped_bars(ax, groups, labels, value_of, colors, annotate, digits=2):
    """Bars at group positions, one per label; value_of(group, label) -> value or None."""
    width = 0.8 / max(1, len(labels))
    for i, label in enumerate(labels):
        xs, ys = [], []
        for g, group in enumerate(groups):
            v = value_of(group, label)
            if v is not None:
                xs.append(g - 0.4 + width * (i + 0.5))
                ys.append(v)
        bars = ax.bar(xs, ys, width=width, color=colors[label], label=label)
        if annotate:
            ax.bar_label(bars, labels=[f"{y:.{digits}f}" for y in ys], fontsize=7, rotation=90, padding=2)
    ax.set_xticks(range(len(groups)))


def plot_mad(rows, out_dir):
    if not required(rows, ["task.name", MIXER_NAME], "the MAD plot"):
        return []
    value = score_column(rows, ("score", "macro_accuracy", "accuracy"))
    if value is None:
        note("skipping the MAD plot: no score column")
        return []
    task_columns = sorted(c for c in config_columns(rows) if c.startswith("task."))
    label_of = mixer_labeller(rows, task_columns)
    note_mixed(rows, lambda r: (label_of(r),) + tuple(r.get(c, "") for c in task_columns),
               task_columns + ["train.lr", "train.weight_decay", "seed"]
               + [c for c in config_columns(rows) if c.startswith("model.")], "MAD")
    scores = mad_scores(rows, label_of, value)
    if not scores:
        note("skipping the MAD plot: no run has a score")
        return []
    tasks = [t for t in KIND_TASKS["mad"] if any(k[0] == t for k in scores)]
    labels = sorted({k[1] for k in scores})
    averages = {label: statistics.fmean(scores[(t, label)][0] for t in tasks)
                for label in labels if all((t, label) in scores for t in tasks)}
    groups = tasks + (["average"] if len(tasks) > 1 and averages else [])
    if len(tasks) > 1 and len(averages) < len(labels):
        note("MAD average left out for mixers without a score on every task")

    def value_of(group, label):
        if group == "average":
            return averages.get(label)
        return scores[(group, label)][0] if (group, label) in scores else None

    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(groups) * max(1, len(labels)) ** 0.5 + 2), 4.2))
    colors = colors_for(labels)
    grouped_bars(ax, groups, labels, value_of, colors, annotate=len(labels) <= 6)
    settings = {t: max(scores[(t, l)][1] for l in labels if (t, l) in scores) for t in tasks}
    ax.set_xticklabels([f"{MAD_SHORT_NAMES.get(g, g)}\n({settings[g]} setting{'s' if settings[g] > 1 else ''})"
                        if g in settings else "Average" for g in groups])
    ax.set_ylim(0, 1.12)
    ax.set_ylabel(f"MAD {value}")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("MAD: task score = mean over settings of the best run over lr x weight_decay")
    figure_legend(fig, [ax])
    fig.tight_layout()
    return [save(fig, out_dir, "mad_scores.png")]


# ---------------------------------------------------------------------------------------------
# state tracking (Grazzi et al.): scaled accuracy vs test length


def chance_rate(row):
    """Chance accuracy r of a state-tracking run: 1/modulus, 1/2 for parity, else from its metrics."""
    modulus = number(row.get("task.modulus"))
    if modulus and row.get("task.name") != "parity":
        return 1.0 / modulus
    if row.get("task.name") == "parity":
        return 0.5
    acc, scaled = number(row.get("accuracy")), number(row.get("scaled_accuracy"))
    if acc is not None and scaled is not None and scaled != 1.0:
        return (acc - scaled) / (1.0 - scaled)
    return None


def binned_length_curve(accuracy, counts, chance):
    """(lengths, scaled accuracies): accuracy_by_length element l-1 is length l; lengths with no
    examples are skipped and the rest averaged (weighted by count) in bins of equal width."""
    present = [(i + 1, a, (counts[i] if counts and i < len(counts) and counts[i] else 1.0))
               for i, a in enumerate(accuracy) if a is not None]
    if not present:
        return [], []
    first, last = present[0][0], present[-1][0]
    width = max(1, math.ceil((last - first + 1) / MAX_LENGTH_POINTS))
    bins = defaultdict(lambda: [0.0, 0.0, 0.0])  # bin -> weighted sum, weight, weighted length
    for length, a, n in present:
        b = bins[(length - first) // width]
        b[0] += a * n
        b[1] += n
        b[2] += length * n
    xs, ys = [], []
    for key in sorted(bins):
        total, weight, lengths = bins[key]
        xs.append(lengths / weight)
        ys.append((total / weight - chance) / (1.0 - chance))
    return xs, ys


def chosen_runs(rows, group_of, value):
    """{group: row} with pick_run applied to each group's rows."""
    grouped = defaultdict(list)
    for row in rows:
        grouped[group_of(row)].append(row)
    chosen = {g: pick_run(rs, value) for g, rs in grouped.items()}
    return {g: r for g, r in chosen.items() if r is not None}


def scaled_accuracy(row):
    scaled = number(row.get("scaled_accuracy"))
    if scaled is not None:
        return scaled
    acc, r = number(row.get("accuracy")), chance_rate(row)
    return None if acc is None or r is None else (acc - r) / (1.0 - r)


def plot_state_tracking(rows, out_dir):
    if not required(rows, ["task.name", MIXER_NAME], "the state-tracking plots"):
        return []
    for row in rows:
        row["_scaled"] = scaled_accuracy(row)
    label_of = mixer_labeller(rows, ["task.name"])
    chosen = chosen_runs(rows, lambda r: (r.get("task.name", ""), label_of(r)), "_scaled")
    if not chosen:
        note("skipping the state-tracking plots: no run has a scaled_accuracy (or accuracy)")
        return []
    tasks = [t for t in KIND_TASKS["state_tracking"] if any(k[0] == t for k in chosen)]
    labels = sorted({k[1] for k in chosen})
    colors = colors_for(labels)
    written = []
    choice = "best seed at the train settings with the best median"

    curves = {}
    for key, row in chosen.items():
        accuracy, chance = load_curve(row, "accuracy_by_length"), chance_rate(row)
        if accuracy is None or chance is None or chance >= 1.0:
            note(f"no accuracy_by_length curve (or chance rate) for {key[0]} / {key[1]} ({row.get('run_id')})")
            continue
        curves[key] = binned_length_curve(accuracy, load_curve(row, "accuracy_by_length_count"), chance)
    curve_tasks = [t for t in tasks if any(k[0] == t for k in curves)]
    if curve_tasks:
        fig, axes = panel_grid(len(curve_tasks), width=4.8, height=3.6, max_cols=3)
        for ax, task in zip(axes, curve_tasks):
            low = 0.0
            for label in labels:
                if (task, label) in curves:
                    xs, ys = curves[(task, label)]
                    ax.plot(xs, ys, marker=".", color=colors[label], label=label)
                    low = min([low] + ys)
            ax.axhline(0.0, color="gray", lw=0.8, ls=":")
            train_max = {number(r.get("task.max_length")) for k, r in chosen.items() if k[0] == task} - {None}
            if len(train_max) == 1:
                ax.axvline(train_max.pop(), color="gray", ls="--", lw=0.8, label="longest train length")
            ax.set_ylim(min(-0.05, low - 0.05), 1.05)
            ax.set_title(task)
            ax.set_xlabel("test sequence length")
            ax.set_ylabel("scaled accuracy (0 = chance)")
            ax.grid(alpha=0.3)
        fig.suptitle(f"State tracking: scaled accuracy vs length ({choice})")
        figure_legend(fig, axes)
        fig.tight_layout()
        written.append(save(fig, out_dir, "state_tracking_by_length.png"))
    else:
        note("skipping the state-tracking length plot: no run has an accuracy_by_length curve")

    fig, ax = plt.subplots(figsize=(max(6.0, 2.2 * len(tasks) + 2), 4.2))
    grouped_bars(ax, tasks, labels,
                 lambda t, l: chosen[(t, l)]["_scaled"] if (t, l) in chosen else None, colors, annotate=True,
                 digits=3)
    ax.set_xticklabels(tasks)
    ax.axhline(0.0, color="gray", lw=0.8)
    low = min(0.0, min(r["_scaled"] for r in chosen.values()))
    ax.set_ylim(low - 0.05 if low < 0 else 0.0, 1.15)
    ax.set_ylabel("scaled accuracy (0 = chance, 1 = perfect)")
    ax.set_title(f"State tracking: overall scaled accuracy ({choice})")
    ax.grid(axis="y", alpha=0.3)
    figure_legend(fig, [ax])
    fig.tight_layout()
    written.append(save(fig, out_dir, "state_tracking_scaled_accuracy.png"))
    return written


# ---------------------------------------------------------------------------------------------
# word problems (DeltaProduct): sequence accuracy vs prefix length per n_h


def householder_of(row):
    """n_h of a run; a mixer without the option does one delta step per token."""
    value = number(row.get(HOUSEHOLDER))
    return int(value) if value is not None else 1


def plot_word_problems(rows, out_dir):
    if not required(rows, [MIXER_NAME], "the word-problem plot"):
        return []
    value = score_column(rows, ("score", "sequence_accuracy"))
    if value is None:
        note("skipping the word-problem plot: no score column")
        return []
    panel_of = lambda r: (r.get("task.group", "") or "?", r.get(EIGEN, ""))
    label_of = mixer_labeller(rows, ["task.group", EIGEN, HOUSEHOLDER], exclude=(EIGEN, HOUSEHOLDER))
    line_of = lambda r: (label_of(r), householder_of(r))
    chosen = chosen_runs(rows, lambda r: (panel_of(r), line_of(r)), value)
    curves = {}
    for key, row in chosen.items():
        curve = load_curve(row, "prefix_accuracy")
        if curve is None:
            note(f"no prefix_accuracy curve for {row.get('run_id')}")
            continue
        curves[key] = curve
    if not curves:
        note("skipping the word-problem plot: no run has a prefix_accuracy curve")
        return []
    panels = sorted({k[0] for k in curves}, key=sort_key)
    lines = sorted({k[1] for k in curves})
    one_mixer = len({label for label, _ in lines}) == 1
    names = {line: (f"n_h={line[1]}" if one_mixer else f"{line[0]}, n_h={line[1]}") for line in lines}
    colors = colors_for([names[line] for line in lines])

    fig, axes = panel_grid(len(panels), width=4.8, height=3.6, max_cols=3)
    for ax, panel in zip(axes, panels):
        for line in lines:
            curve = curves.get((panel, line))
            if curve is None:
                continue
            xs = [i + 1 for i, v in enumerate(curve) if v is not None]
            ys = [v for v in curve if v is not None]
            ax.plot(xs, ys, color=colors[names[line]], label=names[line])
        train = {number(r.get("task.train_length")) for k, r in chosen.items() if k[0] == panel} - {None}
        if len(train) == 1:
            ax.axvline(train.pop(), color="gray", ls="--", lw=0.8, label="train length")
        group, eigen = panel
        ax.set_title(group + (f", eigen_range {format_value(eigen)}" if eigen else ""))
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("prefix length")
        ax.set_ylabel("sequence accuracy")
        ax.grid(alpha=0.3)
    fig.suptitle("Word problems: sequence accuracy vs prefix length (best seed at the train settings with the best median)")
    figure_legend(fig, axes, title="Householder steps" if one_mixer else "mixer")
    fig.tight_layout()
    return [save(fig, out_dir, "word_problems_prefix_accuracy.png")]


# ---------------------------------------------------------------------------------------------

PLOTTERS = {"mqar": plot_mqar, "mad": plot_mad, "state_tracking": plot_state_tracking,
            "word_problems": plot_word_problems}


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Plot a deltabench results folder (runs.csv) as the papers do.")
    parser.add_argument("results_dir", help="folder holding runs.csv and runs/")
    parser.add_argument("--out", help="where the PNGs go (default RESULTS_DIR/plots)")
    parser.add_argument("--kind", default="auto", choices=("auto",) + KINDS,
                        help="which figures to draw (default: from task.name)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not os.path.isdir(args.results_dir):
        note(f"{args.results_dir} is not a folder")
        return 2
    rows = read_done_rows(args.results_dir)
    if rows is None:
        note(f"nothing to plot: no runs.csv in {args.results_dir}")
        return 0
    if not rows:
        note("nothing to plot: no run has status done")
        return 0
    kinds = rows_by_kind(rows, args.kind)
    if not kinds:
        note(f"nothing to plot: no done run of a {args.kind} task" if args.kind != "auto"
             else "nothing to plot: no done run of a known task")
        return 0
    out_dir = args.out or os.path.join(args.results_dir, "plots")
    written, failed = [], False
    for kind in KINDS:
        if kind not in kinds:
            continue
        try:
            written += PLOTTERS[kind](kinds[kind], out_dir)
        except Exception as e:  # one figure's trouble must not cost the others
            note(f"the {kind} plots failed: {type(e).__name__}: {e}")
            failed = True
    if not written and not failed:
        note("nothing plotted (see the notes above)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
