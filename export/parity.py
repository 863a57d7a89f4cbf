"""Parity of exported formats with the Keras float model: JSON, Markdown, plot.

Every TFLite input is fed by its signature name, never by position:
quantized pipelines that swap `token_ids` and `padding_mask` still run and
silently drop to chance accuracy.
"""

import json
import os

import numpy as np

from albert_tf.errors import AlbertTfError
from albert_tf.runtime.runner import ModelRunner


class ParityError(AlbertTfError):
    """An exported format fell below its parity target (the export is kept);
    `rows` holds every format's parity row, as a successful export returns."""

    def __init__(self, message, rows=()):
        super().__init__(message)
        self.rows = list(rows)


def tflite_probabilities(tflite_path, packed, max_length, batch_size=32):
    """Run a TFLite file on packed sequences; returns `(n, num_labels)` float32.

    The runtime's own runner does it, so parity measures what users get:
    batches of similar lengths padded to their longest (a static `[1, L]`
    MediaPipe file gets one sequence at a time, padded to L).
    """
    runner = ModelRunner(tflite_path)
    return runner.run_all(packed, max_length, batch_size)[runner.probability_output]


def decisions(probabilities, threshold=None):
    """What a model answers: the argmax label, or (multi-label, `threshold` given)
    each label's yes/no at the threshold."""
    return probabilities.argmax(-1) if threshold is None else probabilities >= threshold


def compare(reference, probabilities, y_true=None, threshold=None):
    """Agreement and probability differences against the float reference.

    Single-label: `agreement` is the share of texts with the same argmax.
    Multi-label (`threshold`): `agreement` is the share of (text, label)
    decisions that match at the threshold, per label in `label_agreement`,
    and `set_agreement` the share of texts whose whole label set matches;
    `accuracy` is then the exact-match (subset) accuracy.
    """
    diff = np.abs(probabilities - reference)
    ours, theirs = decisions(probabilities, threshold), decisions(reference, threshold)
    row = {
        "agreement": float((ours == theirs).mean()),
        "max_abs_prob_diff": float(diff.max()),
        "mean_abs_prob_diff": float(diff.mean()),
        "finite": bool(np.isfinite(probabilities).all()),
    }
    if threshold is not None:
        row["label_agreement"] = [round(float(a), 6) for a in (ours == theirs).mean(axis=0)]
        row["set_agreement"] = float((ours == theirs).all(axis=-1).mean())
    if y_true is not None:
        y_true = np.asarray(y_true)
        hits = ours == (y_true if threshold is None else y_true >= 0.5)
        row["accuracy"] = float((hits if threshold is None else hits.all(axis=-1)).mean())
    return row


def check(row, recipe, min_agreement=0.99):
    """Failures of a report row against its targets (list of str, empty = pass)."""
    failures = []
    if not row["finite"]:
        failures.append("non-finite probabilities")
    if row["agreement"] < min_agreement:
        failures.append(f"agreement {row['agreement']:.4f} < {min_agreement}")
    if recipe.max_prob_diff is not None and row["max_abs_prob_diff"] > recipe.max_prob_diff:
        failures.append(f"max |Δp| {row['max_abs_prob_diff']:.2e} > {recipe.max_prob_diff}")
    return failures


def write_report(rows, directory, title):
    """parity.json, parity.md and parity.png (when matplotlib is available)."""
    with open(os.path.join(directory, "parity.json"), "w", encoding="utf-8") as f:
        json.dump({"title": title, "formats": rows}, f, indent=2)
    columns = ["file", "recipe", "size_mb", "accuracy", "agreement", "max_abs_prob_diff",
               "mean_abs_prob_diff", "convert_s", "status"]
    lines = [f"# {title}", "", "| " + " | ".join(columns) + " |",
             "|" + "---|" * len(columns)]
    for row in rows:
        cells = {**row, "size_mb": row["size_bytes"] / 1e6,
                 "status": "ok" if not row["failures"] else "; ".join(row["failures"])}
        lines.append("| " + " | ".join(_cell(cells.get(c)) for c in columns) + " |")
    with open(os.path.join(directory, "parity.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    _plot(rows, os.path.join(directory, "parity.png"), title)


def _cell(value):
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 0.01 and value else f"{value:.4f}".rstrip("0").rstrip(".")
    return "–" if value is None else str(value)


def _plot(rows, path, title):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    names = [row["file"].replace(".tflite", "") for row in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    panels = (("size_bytes", "size (MB)", 1e-6), ("agreement", "argmax agreement", 1.0),
              ("max_abs_prob_diff", "max |Δ probability|", 1.0))
    for ax, (key, label, scale) in zip(axes, panels):
        values = [(row.get(key) or 0.0) * scale for row in rows]
        bars = ax.barh(names, values, color=["#c44" if r["failures"] else "#48a" for r in rows])
        ax.set_title(label)
        ax.bar_label(bars, fmt="%.3g", fontsize=8)
        if key == "max_abs_prob_diff":
            ax.set_xscale("log")
        if key == "agreement":  # the interesting range is the last few percent
            ax.set_xlim(min(0.9, min(values) - 0.01), 1.005)
        ax.invert_yaxis()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
