"""DeLong's nonparametric AUC variance, confidence interval and test for correlated ROC curves.

Fast midrank algorithm of Sun & Xu (2014), "Fast implementation of DeLong's algorithm for comparing the
areas under correlated receiver operating characteristic curves", IEEE Signal Processing Letters 21(11).
scikit-learn, scipy and statsmodels have no DeLong; the interval follows pROC's ``ci.auc(method="delong")``
(normal approximation on the AUC scale, clipped to [0, 1]).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm, rankdata

__all__ = ["DeLongTest", "delong_auc_ci", "delong_covariance", "delong_roc_variance", "delong_test"]


def _split(y_true: ArrayLike, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    positive = np.asarray(y_true).astype(bool)
    if positive.all() or not positive.any():
        raise ValueError("DeLong needs at least one positive and one negative case")
    return scores[:, positive], scores[:, ~positive]


def delong_covariance(y_true: ArrayLike, scores: Sequence[ArrayLike] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of several scores on the same cases and DeLong's covariance matrix of those AUCs.

    ``y_true`` is binary (1 = positive); ``scores`` has shape (k, n), higher = more positive.
    Returns ``(aucs (k,), covariance (k, k))``.
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    x, y = _split(y_true, scores)
    m, n = x.shape[1], y.shape[1]
    tx = rankdata(x, axis=1)
    ty = rankdata(y, axis=1)
    tz = rankdata(np.concatenate([x, y], axis=1), axis=1)
    aucs = (tz[:, :m].sum(axis=1) / m - (m + 1) / 2) / n
    v10 = (tz[:, :m] - tx) / n  # placement of each positive among the negatives
    v01 = 1.0 - (tz[:, m:] - ty) / m  # placement of each negative among the positives
    s10 = np.atleast_2d(np.cov(v10)) if m > 1 else np.zeros((len(aucs), len(aucs)))
    s01 = np.atleast_2d(np.cov(v01)) if n > 1 else np.zeros((len(aucs), len(aucs)))
    return aucs, s10 / m + s01 / n


def delong_roc_variance(y_true: ArrayLike, score: ArrayLike) -> tuple[float, float]:
    """``(auc, variance)`` of one score by DeLong's method."""
    aucs, cov = delong_covariance(y_true, [score])
    return float(aucs[0]), float(cov[0, 0])


def delong_auc_ci(y_true: ArrayLike, score: ArrayLike, confidence: float = 0.95) -> tuple[float, tuple[float, float]]:
    """``(auc, (low, high))``: DeLong confidence interval of the AUC, clipped to [0, 1]."""
    auc, var = delong_roc_variance(y_true, score)
    half = norm.ppf(0.5 + confidence / 2) * np.sqrt(var)
    return auc, (float(max(0.0, auc - half)), float(min(1.0, auc + half)))


@dataclass(frozen=True)
class DeLongTest:
    """Result of :func:`delong_test`: the two AUCs, their difference's z statistic and two-sided p-value."""

    auc_a: float
    auc_b: float
    z: float
    p_value: float


def delong_test(y_true: ArrayLike, score_a: ArrayLike, score_b: ArrayLike) -> DeLongTest:
    """DeLong's test of equal AUC for two scores on the same cases (paired / correlated ROC curves)."""
    aucs, cov = delong_covariance(y_true, [score_a, score_b])
    diff = aucs[0] - aucs[1]
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    if var <= 0:  # identical rankings or both perfect: no evidence of a difference unless the AUCs differ
        z, p = (0.0, 1.0) if np.isclose(diff, 0) else (float(np.sign(diff) * np.inf), 0.0)
    else:
        z = float(diff / np.sqrt(var))
        p = float(2 * norm.sf(abs(z)))
    return DeLongTest(float(aucs[0]), float(aucs[1]), z, p)
