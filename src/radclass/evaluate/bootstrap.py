"""Percentile bootstrap confidence intervals for any metric of paired per-case arrays.

``scipy.stats.bootstrap`` resamples cases without regard to class, so a resample can lose a class and make
AUC or recall undefined; here resampling is stratified by the true label by default (as pROC's
``boot.stratified=TRUE``), and resamples where the statistic is undefined (NaN) are dropped and counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["BootstrapCI", "bootstrap_ci", "bootstrap_indices"]


@dataclass(frozen=True)
class BootstrapCI:
    """Point estimate on the full sample, percentile interval, and number of resamples used."""

    estimate: float
    low: float
    high: float
    n_resamples: int


def bootstrap_indices(
    y_true: ArrayLike, n_resamples: int, *, stratified: bool = True, random_state: int | None = 0
) -> np.ndarray:
    """(n_resamples, n) case indices drawn with replacement, within each true class when ``stratified``."""
    y_true = np.asarray(y_true)
    rng = np.random.default_rng(random_state)
    n = len(y_true)
    if not stratified:
        return rng.integers(0, n, size=(n_resamples, n))
    out = np.empty((n_resamples, n), dtype=np.intp)
    for cls in np.unique(y_true):
        members = np.flatnonzero(y_true == cls)
        out[:, members] = members[rng.integers(0, len(members), size=(n_resamples, len(members)))]
    return out


def bootstrap_ci(
    statistic: Callable[..., float],
    y_true: ArrayLike,
    *arrays: ArrayLike,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    stratified: bool = True,
    random_state: int | None = 0,
) -> BootstrapCI:
    """Percentile interval of ``statistic(y_true, *arrays)`` over case resamples.

    ``arrays`` are per-case (first axis = case), e.g. predicted labels or a score matrix.
    """
    y_true = np.asarray(y_true)
    columns = tuple(np.asarray(a) for a in arrays)
    estimate = float(statistic(y_true, *columns))
    values: np.ndarray = np.array(
        [
            statistic(y_true[idx], *(a[idx] for a in columns))
            for idx in bootstrap_indices(y_true, n_resamples, stratified=stratified, random_state=random_state)
        ],
        dtype=float,
    )
    values = values[np.isfinite(values)]
    if not len(values):
        return BootstrapCI(estimate, float("nan"), float("nan"), 0)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return BootstrapCI(estimate, float(low), float(high), len(values))
