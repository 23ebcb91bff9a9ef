"""Evaluation report: PNG plots (confusion matrix; accuracy, loss and F1 curves) and a Markdown summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers
    import matplotlib.pyplot as plt

    return plt


def _save(plt, figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _save_with_legend(plt, figure, axes, path: Path) -> Path:
    """A line chart's last touches: a light grid and the legend, then the file."""
    axes.grid(alpha=0.3)
    axes.legend()
    return _save(plt, figure, path)


def row_normalised(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (the recall view of a confusion matrix); empty rows stay 0."""
    matrix = np.asarray(matrix, float)
    sums = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)


def plot_confusion_matrix(matrix, classes: list[str], path: Path) -> Path:
    """Heat map of row-normalised rates, annotated with the raw counts."""
    plt = _pyplot()
    rates, counts = row_normalised(matrix), np.asarray(matrix)
    figure, axes = plt.subplots(figsize=(7, 6))
    image = axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for (row, col), count in np.ndenumerate(counts):
        colour = "white" if rates[row, col] > 0.5 else "black"
        axes.text(col, row, f"{count}\n{rates[row, col]:.0%}", ha="center", va="center", fontsize=8, color=colour)
    axes.set(xticks=range(len(classes)), yticks=range(len(classes)), xticklabels=classes, yticklabels=classes,
             xlabel="predicted", ylabel="true", title="Confusion matrix (rows sum to 100%)")
    figure.colorbar(image, ax=axes, fraction=0.046)
    return _save(plt, figure, path)


def plot_curve(history: list[dict], keys: list[str], title: str, path: Path) -> Path | None:
    """One line per history key against the epoch; None when the history has none of the keys."""
    present = [key for key in keys if any(key in entry for entry in history)]
    if not present:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for key in present:
        points = [(entry["epoch"], entry[key]) for entry in history if key in entry]
        axes.plot(*zip(*points), marker=".", label=key)
    axes.set(xlabel="epoch", title=title)
    return _save_with_legend(plt, figure, axes, path)


CURVES = {
    "accuracy.png": (["accuracy", "val_accuracy"], "Accuracy"),
    "loss.png": (["loss", "val_loss"], "Loss"),
    "f1.png": (["val_macro_f1"], "Validation macro F1"),
}


def summary_markdown(metrics: dict, metadata: dict, data_dir: str, plots: list[str]) -> str:
    """Markdown summary of one evaluation: headline numbers, per-class table, plots."""
    happy = metrics.get("happy_vs_rest") or {}
    share = metrics.get("happy_share") or {}
    lines = [
        f"# Evaluation of `{metadata.get('name')}` {metadata.get('version')}",
        "",
        f"Data: `{data_dir}` ({metrics['n']} faces)",
        "",
        "| metric | value |",
        "| --- | --- |",
        f"| accuracy | {metrics['accuracy']:.4f} |",
        f"| macro F1 | {metrics['macro_f1']:.4f} |",
    ]
    lines += [f"| happy vs rest {key} | {happy[key]:.4f} |" for key in ("accuracy", "precision", "recall", "f1") if key in happy]
    if metrics.get("happy_vs_sad_accuracy") is not None:
        lines.append(f"| happy vs sad accuracy | {metrics['happy_vs_sad_accuracy']:.4f} |")
    lines += [f"| happy share {key} | {_fmt(value)} |" for key, value in share.items()]
    lines += ["", "| class | precision | recall | F1 | support |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |"
              for name, s in metrics["per_class"].items()]
    lines += uncertainty_table(metrics)
    lines += prior_shift_table(metrics)
    lines += [""] + [f"![{name}]({name})" for name in plots]
    return "\n".join(lines) + "\n"


def uncertainty_table(metrics: dict) -> list[str]:
    """Markdown table of the bootstrap intervals (and the baseline's differences), if measured."""
    section = metrics.get("intervals")
    if not section:
        return []
    baseline = metrics.get("baseline")
    header = "| figure | value | 95% interval |"
    if baseline:
        header += f" {baseline['name']} {baseline['version']} | difference | 95% interval of the difference |"
    lines = ["", f"95% intervals: {section['method']}, {section['resamples']} resamples.", "", header,
             "|" + " --- |" * (header.count("|") - 1)]
    for key, score in section["scores"].items():
        row = f"| {key} | {_fmt(score['value'])} | {_interval(score['interval'])} |"
        if baseline:
            change = baseline["differences"][key]
            row += f" {_fmt(baseline['scores'][key])} | " + (
                "n/a | n/a |" if change is None else f"{change['difference']:+.4f} | {_interval(change['interval'], '+')} |")
        lines.append(row)
    return lines


def uncertainty_lines(metrics: dict) -> list[str]:
    """The same figures as plain text lines for a terminal."""
    section = metrics.get("intervals")
    if not section:
        return []
    lines = [f"95% intervals ({section['method']}, {section['resamples']} resamples):"]
    lines += [f"  {key:24s} {_fmt(s['value'])}  {_interval(s['interval'])}" for key, s in section["scores"].items()]
    baseline = metrics.get("baseline")
    if baseline:
        lines.append(f"difference from {baseline['name']} {baseline['version']} (paired resamples):")
        lines += [f"  {key:24s} {change['difference']:+.4f}  {_interval(change['interval'], '+')}"
                  for key, change in baseline["differences"].items() if change is not None]
    return lines


def prior_shift_table(metrics: dict) -> list[str]:
    """Markdown table of the prior-shift check (see service/training/prior_shift.py), if run."""
    section = metrics.get("prior_shift")
    if not section:
        return []
    lines = ["", f"Adjusted vs raw happy share on groups of {section['group_size']} faces with a known share "
             f"({section['method']}; {section['repeats']} splits), in percentage points:", "",
             "| true share | raw bias | raw 95% of errors within | adjusted bias | adjusted 95% of errors within |",
             "| --- | --- | --- | --- | --- |"]
    for row in section["shares"]:
        raw, adjusted = row["raw"], row["adjusted"]
        lines.append(f"| {row['true_share']:.0%} | {_points(raw['bias'], '+')} | {_points(raw['p95_abs_error'])} | "
                     f"{_points(adjusted['bias'], '+')} | {_points(adjusted['p95_abs_error'])} |")
    return lines


def plot_prior_shift(section: dict, path: Path) -> Path:
    """Estimated against true happy share, raw and adjusted; bars hold 95% of the groups' errors."""
    plt = _pyplot()
    truth = np.array([row["true_share"] for row in section["shares"]])
    figure, axes = plt.subplots(figsize=(6, 5))
    axes.plot([0, 1], [0, 1], color="grey", linewidth=1, label="exact")
    for kind, colour in (("raw", "tab:orange"), ("adjusted", "tab:blue")):
        defined = np.array([row[kind]["bias"] is not None for row in section["shares"]])
        rows = [row[kind] for row, keep in zip(section["shares"], defined) if keep]
        shown = truth[defined]
        estimate = shown + np.array([r["bias"] for r in rows])
        spread = np.array([r["p95_abs_error"] for r in rows])
        axes.errorbar(shown, estimate, yerr=spread, marker="o", capsize=3, color=colour, label=f"{kind} share")
    axes.set(xlabel="true happy share of the group", ylabel="estimated happy share", xlim=(0, 1), ylim=(0, 1),
             title=f"Happy share of groups of {section['group_size']} faces")
    return _save_with_legend(plt, figure, axes, path)


def _points(value, sign: str = "") -> str:
    return "n/a" if value is None else f"{value * 100:{sign}.1f}"


def _interval(bounds, sign: str = "") -> str:
    return "n/a" if bounds is None else f"[{bounds[0]:{sign}.4f}, {bounds[1]:{sign}.4f}]"


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def write_report(out_dir: str | Path, metrics: dict, metadata: dict, history: list[dict], data_dir: str) -> Path:
    """Write the plots and summary.md into ``out_dir``; returns the summary's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = [plot_confusion_matrix(metrics["confusion_matrix"], list(metrics["per_class"]), out / "confusion_matrix.png")]
    for filename, (keys, title) in CURVES.items():
        plots.append(plot_curve(history, keys, title, out / filename))
    if metrics.get("prior_shift"):
        plots.append(plot_prior_shift(metrics["prior_shift"], out / "prior_shift.png"))
    names = [p.name for p in plots if p is not None]
    summary = out / "summary.md"
    summary.write_text(summary_markdown(metrics, metadata, data_dir, names))
    return summary
