"""Classification metrics from label vectors: confusion matrices, per-class and overall summaries.

The project's one home of its metrics (MONAI-style, a pure function per metric): :func:`balanced_accuracy`
(also from confusion counts, :func:`balanced_accuracy_from_counts`), :func:`clopper_pearson`, and the tables
:func:`per_class_metrics` / :func:`overall_metrics`. Training, the model cards and the evaluation import them.

Every proportion comes with its exact (Clopper–Pearson) 95% interval. Predictions equal to
:data:`radclass.taxonomy.UNKNOWN` are abstentions: they count as misses for the true class (so overall
accuracy is "intention to classify") and never as false positives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score, confusion_matrix
from statsmodels.stats.proportion import proportion_confint

from radclass.taxonomy import UNKNOWN

__all__ = [
    "balanced_accuracy",
    "balanced_accuracy_from_counts",
    "class_labels",
    "clopper_pearson",
    "confusion",
    "overall_metrics",
    "per_class_metrics",
]


def clopper_pearson(successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact binomial (Clopper–Pearson) interval for ``successes / total``; ``(nan, nan)`` when ``total`` is 0."""
    if total <= 0:
        return (float("nan"), float("nan"))
    low, high = proportion_confint(successes, total, alpha=1.0 - confidence, method="beta")
    return (float(low), float(high))


def balanced_accuracy_from_counts(counts: np.ndarray) -> float:
    """Balanced accuracy of a confusion matrix: the mean recall over the classes with support.

    Parameters
    ----------
    counts
        (n_classes, n_columns) counts, rows = truth, columns = prediction, with column ``i`` the prediction of
        row ``i``'s class for ``i < n_classes``; further columns (abstentions, classes never true) count as misses.

    Returns
    -------
    float
        ``nan`` when no class has support.
    """
    counts = np.asarray(counts, dtype=float)
    n = counts.shape[0]
    support = counts.sum(axis=1)
    present = support > 0
    if not present.any():
        return float("nan")
    return float(np.mean(np.diag(counts[:, :n])[present] / support[present]))


def balanced_accuracy(
    y_true: Sequence[Any] | np.ndarray, y_pred: Sequence[Any] | np.ndarray, *, empty: float = float("nan")
) -> float:
    """Mean recall over the classes present in ``y_true`` (as scikit-learn's ``balanced_accuracy_score``).

    Predictions of any other value (an abstention, ``""`` for no prediction, a class never true) are misses.

    Parameters
    ----------
    y_true, y_pred
        Labels of equal length (strings or integer codes).
    empty
        The value when there is no case (default ``nan``).
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"Truth and predictions differ in length ({len(y_true)} and {len(y_pred)}).")
    if not len(y_true):
        return empty
    classes = np.unique(y_true)
    counts = np.zeros((len(classes), len(classes) + 1))
    for i, c in enumerate(classes):
        is_true = y_true == c
        counts[i, i] = np.sum(is_true & (y_pred == c))
        counts[i, -1] = np.sum(is_true) - counts[i, i]
    return balanced_accuracy_from_counts(counts)


def class_labels(y_true: Sequence[str] | np.ndarray, y_pred: Sequence[str] | np.ndarray) -> list[str]:
    """Sorted classes seen in truth or predictions, abstentions (``UNKNOWN``) excluded."""
    return sorted((set(map(str, y_true)) | set(map(str, y_pred))) - {UNKNOWN})


def confusion(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str], *, normalize: bool = False
) -> pd.DataFrame:
    """Confusion matrix, rows = truth, columns = prediction (plus an ``UNKNOWN`` column when any abstain).

    ``normalize=True`` divides each row by its total (rows without support stay 0).
    """
    columns = list(labels) + ([UNKNOWN] if UNKNOWN in set(y_pred) else [])
    counts = confusion_matrix(y_true, y_pred, labels=columns)[: len(labels)]
    if not normalize:
        return pd.DataFrame(counts, index=list(labels), columns=columns)
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    return pd.DataFrame(rates, index=list(labels), columns=columns)


def _proportion(successes: int, total: int, confidence: float) -> tuple[float, tuple[float, float]]:
    value = successes / total if total else float("nan")
    return value, clopper_pearson(successes, total, confidence)


def per_class_metrics(
    y_true: Sequence[str] | np.ndarray,
    y_pred: Sequence[str] | np.ndarray,
    labels: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One-vs-rest metrics per class (Ranjbar et al. 2019 Table 1 layout plus precision/F1).

    Columns: ``support``, ``tp``, ``fp``, ``fn``, ``tn``, then ``sensitivity``, ``specificity``, ``precision``,
    ``accuracy`` (one-vs-rest) each with ``*_ci_low``/``*_ci_high`` (Clopper–Pearson), and ``f1``.
    """
    y_true, y_pred = np.asarray(y_true, dtype=str), np.asarray(y_pred, dtype=str)
    labels = class_labels(y_true, y_pred) if labels is None else list(labels)
    rows = []
    for label in labels:
        is_true, is_pred = y_true == label, y_pred == label
        tp = int(np.sum(is_true & is_pred))
        fp = int(np.sum(~is_true & is_pred))
        fn = int(np.sum(is_true & ~is_pred))
        tn = int(np.sum(~is_true & ~is_pred))
        row: dict[str, float] = {"support": tp + fn, "tp": tp, "fp": fp, "fn": fn, "tn": tn}
        for name, k, n in (
            ("sensitivity", tp, tp + fn),
            ("specificity", tn, tn + fp),
            ("precision", tp, tp + fp),
            ("accuracy", tp + tn, tp + fp + fn + tn),
        ):
            value, (low, high) = _proportion(k, n, confidence)
            row |= {name: value, f"{name}_ci_low": low, f"{name}_ci_high": high}
        row["f1"] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
        rows.append(row)
    table = pd.DataFrame(rows, index=pd.Index(labels, name="label"))
    return table.astype(dict.fromkeys(("support", "tp", "fp", "fn", "tn"), int))


def _weighted(values: pd.Series, weights: pd.Series) -> float:
    ok = values.notna() & (weights > 0)
    return float(np.average(values[ok], weights=weights[ok])) if ok.any() else float("nan")


def overall_metrics(
    y_true: Sequence[str] | np.ndarray,
    y_pred: Sequence[str] | np.ndarray,
    labels: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Accuracy (with Clopper–Pearson CI), balanced accuracy, Cohen's kappa, macro and support-weighted averages.

    Macro averages run over the classes present in the truth; weighted averages weight by true support
    (as scikit-learn's ``average="weighted"``).

    Also the abstention summary: ``coverage`` (share not ``UNKNOWN``) and ``selective_accuracy``
    (accuracy among the cases the classifier decided).
    """
    y_true, y_pred = np.asarray(y_true, dtype=str), np.asarray(y_pred, dtype=str)
    labels = class_labels(y_true, y_pred) if labels is None else list(labels)
    table = per_class_metrics(y_true, y_pred, labels, confidence)
    n, correct = len(y_true), int(np.sum(y_true == y_pred))
    decided = y_pred != UNKNOWN
    accuracy, accuracy_ci = _proportion(correct, n, confidence)
    coverage, coverage_ci = _proportion(int(decided.sum()), n, confidence)
    selective, selective_ci = _proportion(
        int(np.sum(y_true[decided] == y_pred[decided])), int(decided.sum()), confidence
    )
    kappa_labels = labels + ([UNKNOWN] if (~decided).any() else [])
    result: dict[str, Any] = {
        "n": n,
        "accuracy": accuracy,
        "accuracy_ci95": list(accuracy_ci),
        # mean sensitivity over the classes present in the truth (= sklearn's balanced_accuracy_score)
        "balanced_accuracy": float(table["sensitivity"][table["support"] > 0].mean()) if n else float("nan"),
        "cohen_kappa": float(cohen_kappa_score(y_true, y_pred, labels=kappa_labels)) if n else float("nan"),
        "coverage": coverage,
        "coverage_ci95": list(coverage_ci),
        "selective_accuracy": selective,
        "selective_accuracy_ci95": list(selective_ci),
    }
    support = table["support"]
    for name in ("sensitivity", "specificity", "precision", "f1"):
        present = table[name][support > 0]
        result[f"macro_{name}"] = float(present.mean()) if len(present) else float("nan")
        result[f"weighted_{name}"] = _weighted(table[name], support)
    return result
