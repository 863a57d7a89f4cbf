"""Classification metrics in numpy: accuracy, macro-F1, per class, confusion."""

import numpy as np


def _f1(precision, recall):
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


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
    per_class = {}
    for i, name in enumerate(label_names):
        tp = confusion[i, i]
        precision = tp / confusion[:, i].sum() if confusion[:, i].sum() else 0.0
        recall = tp / confusion[i].sum() if confusion[i].sum() else 0.0
        per_class[name] = {"precision": float(precision), "recall": float(recall),
                           "f1": float(_f1(precision, recall)),
                           "support": int(confusion[i].sum())}
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
    per_class = {}
    for i, name in enumerate(label_names):
        tp = np.sum(y_true[:, i] & y_pred[:, i])
        precision = tp / y_pred[:, i].sum() if y_pred[:, i].sum() else 0.0
        recall = tp / y_true[:, i].sum() if y_true[:, i].sum() else 0.0
        per_class[name] = {"precision": float(precision), "recall": float(recall),
                           "f1": float(_f1(precision, recall)),
                           "support": int(y_true[:, i].sum())}
    tp = np.sum(y_true & y_pred)
    micro_p = tp / y_pred.sum() if y_pred.sum() else 0.0
    micro_r = tp / y_true.sum() if y_true.sum() else 0.0
    return {
        "accuracy": float(np.all(y_true == y_pred, axis=1).mean()),
        "macro_f1": float(np.mean([c["f1"] for c in per_class.values()])),
        "micro_f1": float(_f1(micro_p, micro_r)),
        "num_examples": int(len(y_true)),
        "per_class": per_class,
        "labels": list(label_names),
    }
