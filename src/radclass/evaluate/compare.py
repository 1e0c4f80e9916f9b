"""Tests between classifiers (or a classifier and a human reader) evaluated on the same cases.

McNemar (paired correct/incorrect, statsmodels), χ² of two accuracies (scipy), and the Friedman test with the
Nemenyi post-hoc over several classifiers' per-class scores (Demšar 2006, JMLR 7:1–30); scipy has Friedman
and the studentized range distribution but no Nemenyi, so the critical difference is computed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import chi2_contingency, f, friedmanchisquare, rankdata, studentized_range
from statsmodels.stats.contingency_tables import mcnemar

__all__ = [
    "FriedmanNemenyi",
    "TestResult",
    "chi2_test",
    "friedman_nemenyi",
    "mcnemar_test",
    "nemenyi_critical_difference",
]


@dataclass(frozen=True)
class TestResult:
    """A test statistic, its p-value, the method used and the counts it was computed from."""

    __test__ = False  # not a pytest class

    method: str
    statistic: float
    p_value: float
    counts: dict[str, int]


def mcnemar_test(correct_a: ArrayLike, correct_b: ArrayLike, *, exact: bool | None = None) -> TestResult:
    """McNemar's test on paired outcomes (True = correct) of two raters on the same cases.

    ``exact=None`` uses the exact binomial test when there are fewer than 25 discordant pairs, else the
    χ² statistic with continuity correction.
    """
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError("McNemar needs paired outcomes of equal length")
    table = np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]])
    discordant = int(table[0, 1] + table[1, 0])
    exact = discordant < 25 if exact is None else exact
    if discordant == 0:
        stat, p = 0.0, 1.0
    else:
        res = mcnemar(table, exact=exact, correction=True)
        stat, p = float(res.statistic), float(res.pvalue)
    counts = {
        "both_correct": int(table[0, 0]),
        "only_a_correct": int(table[0, 1]),
        "only_b_correct": int(table[1, 0]),
        "both_wrong": int(table[1, 1]),
    }
    return TestResult("mcnemar_exact" if exact else "mcnemar_chi2", stat, p, counts)


def chi2_test(correct_a: ArrayLike, correct_b: ArrayLike) -> TestResult:
    """Pearson χ² (Yates-corrected) test of equal accuracy for two classifiers on independent case sets."""
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    table = np.array([[a.sum(), (~a).sum()], [b.sum(), (~b).sum()]])
    if (table.sum(axis=0) == 0).any():  # everyone right or everyone wrong: nothing to test
        stat, p = 0.0, 1.0
    else:
        res = chi2_contingency(table, correction=True)
        stat, p = float(res.statistic), float(res.pvalue)
    counts = {
        "a_correct": int(table[0, 0]),
        "a_wrong": int(table[0, 1]),
        "b_correct": int(table[1, 0]),
        "b_wrong": int(table[1, 1]),
    }
    return TestResult("chi2", stat, p, counts)


def nemenyi_critical_difference(k: int, n_blocks: int, alpha: float = 0.05) -> tuple[float, float]:
    """``(q_alpha, CD)``: Nemenyi critical value and the critical difference of average ranks (Demšar eq. 5)."""
    q_alpha = float(studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2))
    return q_alpha, q_alpha * float(np.sqrt(k * (k + 1) / (6 * n_blocks)))


@dataclass(frozen=True)
class FriedmanNemenyi:
    """Friedman test over blocks (e.g. classes) and the Nemenyi post-hoc between methods.

    ``average_ranks``: rank 1 = best. ``chi2``/``p_value``: scipy's tie-corrected Friedman statistic;
    ``chi2_uncorrected``: Demšar's eq. (3) from the average ranks (no tie correction, as published tables);
    ``iman_davenport_f``/``iman_davenport_p``: the less conservative F form of it (Demšar eq. 4).
    ``pairwise_p``: Nemenyi p-values.
    """

    names: list[str]
    n_blocks: int
    average_ranks: pd.Series
    chi2: float
    p_value: float
    chi2_uncorrected: float
    iman_davenport_f: float
    iman_davenport_p: float
    alpha: float
    q_alpha: float
    critical_difference: float
    pairwise_p: pd.DataFrame


def friedman_nemenyi(scores: ArrayLike, names: Sequence[str] | None = None, alpha: float = 0.05) -> FriedmanNemenyi:
    """Friedman + Nemenyi on an (N blocks × k methods) score matrix, higher = better; NaN rows are dropped."""
    matrix = np.asarray(scores, dtype=float)
    matrix = matrix[np.isfinite(matrix).all(axis=1)]
    n, k = matrix.shape
    if k < 3 or n < 2:
        raise ValueError(f"Friedman needs ≥3 methods and ≥2 complete blocks, got {k} methods and {n} blocks")
    names = [f"m{i}" for i in range(k)] if names is None else list(names)
    ranks = rankdata(-matrix, axis=1).mean(axis=0)
    stat, p = friedmanchisquare(*matrix.T)
    chi2_plain = 12 * n / (k * (k + 1)) * (np.sum(ranks**2) - k * (k + 1) ** 2 / 4)
    denom = n * (k - 1) - chi2_plain
    ff = (n - 1) * chi2_plain / denom if denom > 0 else float("inf")
    ff_p = float(f.sf(ff, k - 1, (k - 1) * (n - 1))) if np.isfinite(ff) else 0.0
    q_alpha, cd = nemenyi_critical_difference(k, n, alpha)
    se = np.sqrt(k * (k + 1) / (6 * n))
    pvals = np.ones((k, k))
    for i in range(k):
        for j in range(i + 1, k):
            q = abs(ranks[i] - ranks[j]) / se * np.sqrt(2)
            pvals[i, j] = pvals[j, i] = float(studentized_range.sf(q, k, np.inf)) if q > 0 else 1.0
    return FriedmanNemenyi(
        names,
        n,
        pd.Series(ranks, index=names),
        float(stat),
        float(p),
        float(chi2_plain),
        float(ff),
        ff_p,
        alpha,
        q_alpha,
        cd,
        pd.DataFrame(pvals, index=names, columns=names),
    )
