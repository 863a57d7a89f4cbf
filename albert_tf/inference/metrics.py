"""Classification metrics in numpy: accuracy, macro-F1, per class, confusion."""

import numpy as np


def _f1(precision, recall):
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _scores(true_positives, predicted, actual):
    """Precision, recall, F1 and support from counts (0 where undefined)."""
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / actual if actual else 0.0
    return {"precision": float(precision), "recall": float(recall),
            "f1": float(_f1(precision, recall)), "support": int(actual)}


def classification_report(y_true, y_pred, label_names):
    """Metrics of single-label predictions (class indices) as a JSON-able dict.

    Example:
    ```python
    classification_report([0, 1, 1], [0, 1, 0], ["neg", "pos"])["accuracy"]  # 0.667
    ```
    """
    y_true, y_pred = np.asarray(y_true, int), np.asarray(y_pred, int)
    k = len(label_names)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (y_true, y_pred), 1)
    per_class = {name: _scores(confusion[i, i], confusion[:, i].sum(), confusion[i].sum())
                 for i, name in enumerate(label_names)}
    return {
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        "macro_f1": float(np.mean([c["f1"] for c in per_class.values()])),
        "num_examples": int(len(y_true)),
        "per_class": per_class,
        "labels": list(label_names),
        "confusion_matrix": confusion.tolist(),
    }


def multilabel_report(y_true, y_pred, label_names):
    """Metrics of multi-hot predictions: subset accuracy, micro/macro F1."""
    y_true, y_pred = np.asarray(y_true) > 0.5, np.asarray(y_pred) > 0.5
    per_class = {name: _scores(np.sum(y_true[:, i] & y_pred[:, i]), y_pred[:, i].sum(),
                               y_true[:, i].sum())
                 for i, name in enumerate(label_names)}
    micro = _scores(np.sum(y_true & y_pred), y_pred.sum(), y_true.sum())
    return {
        "accuracy": float(np.all(y_true == y_pred, axis=1).mean()),
        "macro_f1": float(np.mean([c["f1"] for c in per_class.values()])),
        "micro_f1": micro["f1"],
        "num_examples": int(len(y_true)),
        "per_class": per_class,
        "labels": list(label_names),
    }
