"""ROC and precision–recall curves (one-vs-rest for several classes) with DeLong and bootstrap intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_curve

from radclass.evaluate.bootstrap import bootstrap_indices
from radclass.evaluate.delong import delong_auc_ci

__all__ = ["PRCurve", "ROCCurve", "one_vs_rest", "pr_curve", "roc_ci_band", "roc_curve_ci"]


@dataclass(frozen=True)
class ROCCurve:
    """Empirical ROC of one score: points, AUC with its DeLong interval, optional bootstrap TPR band."""

    label: str
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float
    auc_ci: tuple[float, float]
    band_fpr: np.ndarray | None = None
    band_low: np.ndarray | None = None
    band_high: np.ndarray | None = None


@dataclass(frozen=True)
class PRCurve:
    """Precision–recall curve of one score, its average precision and the no-skill level (prevalence)."""

    label: str
    precision: np.ndarray
    recall: np.ndarray
    average_precision: float
    prevalence: float


def roc_ci_band(
    y_true: ArrayLike,
    score: ArrayLike,
    *,
    grid: ArrayLike | None = None,
    n_resamples: int = 500,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise bootstrap interval of sensitivity at fixed false-positive rates (pROC ``ci.se``).

    Returns ``(fpr_grid, tpr_low, tpr_high)``; resampling is stratified by class.
    """
    y_true, score = np.asarray(y_true).astype(bool), np.asarray(score, dtype=float)
    grid = np.linspace(0, 1, 51) if grid is None else np.asarray(grid, dtype=float)
    tprs = np.empty((n_resamples, len(grid)))
    for i, idx in enumerate(bootstrap_indices(y_true, n_resamples, random_state=random_state)):
        fpr, tpr, _ = roc_curve(y_true[idx], score[idx])
        tprs[i] = np.interp(grid, fpr, tpr)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(tprs, [tail, 100 - tail], axis=0)
    return grid, low, high


def roc_curve_ci(
    y_true: ArrayLike,
    score: ArrayLike,
    label: str = "",
    *,
    confidence: float = 0.95,
    band_resamples: int = 0,
    random_state: int | None = 0,
) -> ROCCurve:
    """ROC of a binary problem (``y_true`` 1 = positive) with DeLong AUC interval; bootstrap band if asked."""
    y_true, score = np.asarray(y_true).astype(int), np.asarray(score, dtype=float)
    fpr, tpr, thresholds = roc_curve(y_true, score)
    auc, ci = delong_auc_ci(y_true, score, confidence)
    band: tuple[np.ndarray | None, ...] = (None, None, None)
    if band_resamples:
        band = roc_ci_band(y_true, score, n_resamples=band_resamples, confidence=confidence, random_state=random_state)
    return ROCCurve(label, fpr, tpr, thresholds, auc, ci, *band)


def pr_curve(y_true: ArrayLike, score: ArrayLike, label: str = "") -> PRCurve:
    """Precision–recall curve and average precision (scikit-learn's step-wise definition)."""
    y_true, score = np.asarray(y_true).astype(int), np.asarray(score, dtype=float)
    precision, recall, _ = precision_recall_curve(y_true, score)
    return PRCurve(label, precision, recall, float(average_precision_score(y_true, score)), float(y_true.mean()))


def one_vs_rest(
    y_true: Sequence[str] | np.ndarray,
    scores: ArrayLike,
    classes: Sequence[str],
    *,
    confidence: float = 0.95,
    band_resamples: int = 0,
) -> tuple[list[ROCCurve], list[PRCurve]]:
    """ROC and PR curve of each class against the rest, from an (n, k) score matrix in ``classes`` order.

    Classes without both positive and negative cases are skipped (their AUC is undefined).
    """
    y_true, scores = np.asarray(y_true, dtype=str), np.asarray(scores, dtype=float)
    rocs, prs = [], []
    for j, cls in enumerate(classes):
        positive = (y_true == cls).astype(int)
        if positive.all() or not positive.any():
            continue
        rocs.append(roc_curve_ci(positive, scores[:, j], cls, confidence=confidence, band_resamples=band_resamples))
        prs.append(pr_curve(positive, scores[:, j], cls))
    return rocs, prs
