"""Calibration (reliability table, expected calibration error) and selective prediction (risk–coverage).

scikit-learn's ``calibration_curve`` gives the reliability points but neither bin counts nor ECE; the
bins here are the same (``uniform`` edges, ``searchsorted`` assignment) so the points agree with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["RiskCoverage", "expected_calibration_error", "reliability_table", "risk_coverage_curve"]


def reliability_table(outcome: ArrayLike, probability: ArrayLike, n_bins: int = 10) -> pd.DataFrame:
    """Per-bin ``count``, mean predicted ``confidence`` and observed ``frequency`` of the outcome.

    ``outcome`` is 0/1 (the event the probability predicts: the positive class, or "prediction correct"
    for top-label calibration); empty bins have NaN means.
    """
    outcome, probability = np.asarray(outcome, dtype=float), np.asarray(probability, dtype=float)
    if probability.size and (probability.min() < 0 or probability.max() > 1):
        raise ValueError("probabilities must lie in [0, 1]")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], probability)
    count = np.bincount(ids, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(ids, weights=probability, minlength=n_bins) / count
        frequency = np.bincount(ids, weights=outcome, minlength=n_bins) / count
    return pd.DataFrame(
        {"bin_low": edges[:-1], "bin_high": edges[1:], "count": count, "confidence": confidence, "frequency": frequency}
    )


def expected_calibration_error(outcome: ArrayLike, probability: ArrayLike, n_bins: int = 10) -> float:
    """ECE: count-weighted mean of |observed frequency − mean confidence| over the bins (Guo et al. 2017)."""
    table = reliability_table(outcome, probability, n_bins)
    used = table["count"] > 0
    if not used.any():
        return float("nan")
    gap = (table["frequency"] - table["confidence"]).abs()[used]
    return float(np.average(gap, weights=table["count"][used]))


@dataclass(frozen=True)
class RiskCoverage:
    """Risk (error rate among accepted cases) against coverage (accepted share of all cases).

    ``coverage``/``risk``/``thresholds`` trace the curve from the most confident case down; ``aurc`` is the
    area under it (step-wise from coverage 0, as Geifman et al. 2019); ``operating_point`` is the classifier's own
    (coverage, risk) with its abstentions as given.
    """

    coverage: np.ndarray
    risk: np.ndarray
    thresholds: np.ndarray
    aurc: float
    operating_point: tuple[float, float]


def risk_coverage_curve(correct: ArrayLike, confidence: ArrayLike, abstained: ArrayLike | None = None) -> RiskCoverage:
    """Risk–coverage curve of an abstaining classifier.

    ``correct`` marks right predictions, ``confidence`` ranks them (higher = accepted first) and
    ``abstained`` marks cases the classifier declined (``UNKNOWN``): those are never accepted, so the
    curve ends at the classifier's coverage. Ties in confidence are accepted together.
    """
    correct = np.asarray(correct, dtype=bool)
    confidence = np.asarray(confidence, dtype=float)
    abstained = np.zeros(len(correct), bool) if abstained is None else np.asarray(abstained, dtype=bool)
    n = len(correct)
    decided = ~abstained & np.isfinite(confidence)
    order = np.argsort(-confidence[decided], kind="stable")
    conf_sorted = confidence[decided][order]
    errors = np.cumsum(~correct[decided][order])
    # last index of each run of equal confidence: all tied cases enter together
    ends = np.flatnonzero(np.r_[conf_sorted[1:] != conf_sorted[:-1], True]) if len(order) else np.array([], int)
    accepted = ends + 1
    coverage = accepted / n if n else accepted.astype(float)
    risk = errors[ends] / accepted if len(ends) else np.array([], float)
    aurc = float(np.sum(risk * np.diff(np.r_[0.0, coverage]))) if len(ends) else float("nan")
    n_decided = int((~abstained).sum())
    op_risk = float(np.mean(~correct[~abstained])) if n_decided else float("nan")
    op = (n_decided / n if n else float("nan"), op_risk)
    return RiskCoverage(coverage, risk, conf_sorted[ends], aurc, op)
