"""Evaluate one prediction table against the truth, and compare several on their common cases.

This module joins the pieces (inputs → metrics, curves, calibration, tests) into plain result objects and
their JSON form; :mod:`radclass.evaluate.report` renders them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from radclass.evaluate.bootstrap import BootstrapCI, bootstrap_ci
from radclass.evaluate.calibration import (
    RiskCoverage,
    expected_calibration_error,
    reliability_table,
    risk_coverage_curve,
)
from radclass.evaluate.compare import chi2_test, friedman_nemenyi, mcnemar_test
from radclass.evaluate.curves import PRCurve, ROCCurve, one_vs_rest, pr_curve, roc_curve_ci
from radclass.evaluate.delong import delong_test
from radclass.evaluate.inputs import Predictions, match_paths
from radclass.evaluate.metrics import (
    balanced_accuracy_from_counts,
    class_labels,
    confusion,
    overall_metrics,
    per_class_metrics,
)
from radclass.taxonomy import UNKNOWN

__all__ = ["Evaluation", "compare_evaluations", "evaluate_predictions", "choose_positive"]

# labels that name the absence of a finding: never the positive class unless asked
_NEGATIVE_NAMES = {"NORMAL", "NEGATIVE", "NEG", "0", "FALSE", "NO", "ABSENT", "BENIGN", "HEALTHY", "CONTROL"}


@dataclass
class Evaluation:
    """Everything computed for one classifier on its matched cases (arrays aligned with ``cases``)."""

    name: str
    cases: pd.DataFrame  # path, truth_path, truth_index, truth, pred, correct, [confidence], [score_*]
    labels: list[str]
    per_class: pd.DataFrame
    overall: dict[str, Any]
    bootstrap: dict[str, BootstrapCI]
    confusion: pd.DataFrame
    confusion_normalized: pd.DataFrame
    positive: str | None = None
    rocs: list[ROCCurve] = field(default_factory=list)
    prs: list[PRCurve] = field(default_factory=list)
    calibration: pd.DataFrame | None = None
    calibration_kind: str = ""
    ece: float | None = None
    risk_coverage: RiskCoverage | None = None
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def binary(self) -> bool:
        """Whether the task has exactly two classes."""
        return len(self.labels) == 2

    @property
    def positive_score(self) -> np.ndarray | None:
        """Positive-class score per case for a binary task, if the predictions carry one."""
        col = "score_positive"
        return self.cases[col].to_numpy(float) if col in self.cases else None


def choose_positive(labels: Sequence[str], table: pd.DataFrame, positive: str | None = None) -> str:
    """Positive class of a binary task: ``positive`` if given; else, with a ``probability`` column, the label
    predicted where probability ≥ 0.5; else the label not named like a negative (NORMAL, …); else the last."""
    labels = list(labels)
    if positive is not None:
        if positive not in labels:
            raise ValueError(f"--positive {positive!r} is not one of the labels {labels}")
        return positive
    if "probability" in table.columns and table["probability"].notna().any():
        high = table.loc[table["probability"] >= 0.5, "label"]
        high = high[high.isin(labels)]
        if len(high):
            return str(high.value_counts().index[0])
    named_negative = [c for c in labels if c.upper() in _NEGATIVE_NAMES]
    if len(named_negative) == 1:
        return next(c for c in labels if c not in named_negative)
    return sorted(labels)[-1]


def _codes(values: np.ndarray, vocab: list[str]) -> np.ndarray:
    lookup = {v: i for i, v in enumerate(vocab)}
    return np.array([lookup[v] for v in values], dtype=np.intp)


def _confusion_statistics(n_labels: int, k: int):
    """Fast statistics of integer-coded (truth, prediction) pairs for the bootstrap (checked against sklearn)."""

    def matrix(t: np.ndarray, p: np.ndarray) -> np.ndarray:
        return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(float)

    def balanced_accuracy(t: np.ndarray, p: np.ndarray) -> float:
        return balanced_accuracy_from_counts(matrix(t, p)[:n_labels])

    def macro_f1(t: np.ndarray, p: np.ndarray) -> float:
        cm = matrix(t, p)
        tp = np.diag(cm)[:n_labels]
        support, predicted = cm.sum(axis=1)[:n_labels], cm.sum(axis=0)[:n_labels]
        denom = support + predicted
        return float(np.mean(2 * tp[support > 0] / denom[support > 0]))

    def kappa(t: np.ndarray, p: np.ndarray) -> float:
        cm = matrix(t, p)
        n = cm.sum()
        po, pe = np.trace(cm) / n, float(cm.sum(axis=1) @ cm.sum(axis=0)) / n**2
        return float((po - pe) / (1 - pe)) if pe < 1 else float("nan")

    return {"balanced_accuracy": balanced_accuracy, "macro_f1": macro_f1, "cohen_kappa": kappa}


def evaluate_predictions(
    predictions: Predictions,
    truth: pd.DataFrame,
    *,
    name: str = "classifier",
    positive: str | None = None,
    n_bootstrap: int = 1000,
    band_resamples: int = 200,
    n_bins: int = 10,
    random_state: int = 0,
) -> Evaluation:
    """Match ``predictions`` to ``truth`` (see :func:`~radclass.evaluate.inputs.match_paths`) and compute all metrics.

    ``n_bootstrap`` resamples give the intervals of balanced accuracy, macro-F1 and kappa;
    ``band_resamples`` the ROC sensitivity band (0 = none).
    """
    pred = predictions.table
    match = match_paths(pred["path"].tolist(), truth["path"].tolist())
    p_idx, t_idx = match.pairs["pred_index"].to_numpy(), match.pairs["truth_index"].to_numpy()
    cases = pd.DataFrame(
        {
            "path": pred["path"].to_numpy()[p_idx],
            "truth_path": truth["path"].to_numpy()[t_idx],
            "truth_index": t_idx,
            "truth": truth["label"].to_numpy()[t_idx],
            "pred": pred["label"].to_numpy()[p_idx],
        }
    )
    cases["correct"] = cases["truth"] == cases["pred"]
    if "confidence" in pred:
        cases["confidence"] = pred["confidence"].to_numpy(float)[p_idx]
    labels = class_labels(cases["truth"], cases["pred"])
    y_true, y_pred = cases["truth"].to_numpy(str), cases["pred"].to_numpy(str)

    inputs = {
        "source": predictions.source,
        "rows_dropped_by_status": predictions.dropped_status,
        "sub_series_rows_collapsed": predictions.collapsed_sub_series,
        "matched": int(len(cases)),
        "unmatched_predictions": [str(pred["path"].iloc[i]) for i in match.unmatched_pred],
        "ambiguous_predictions": [str(pred["path"].iloc[i]) for i in match.ambiguous_pred],
        "unmatched_truth": [str(truth["path"].iloc[j]) for j in match.unmatched_truth],
    }
    result = Evaluation(
        name=name,
        cases=cases,
        labels=labels,
        per_class=per_class_metrics(y_true, y_pred, labels),
        overall=overall_metrics(y_true, y_pred, labels),
        bootstrap={},
        confusion=confusion(y_true, y_pred, labels),
        confusion_normalized=confusion(y_true, y_pred, labels, normalize=True),
        inputs=inputs,
    )
    if not len(cases):
        return result

    if n_bootstrap:
        vocab = labels + [UNKNOWN]
        t, p = _codes(y_true, vocab), _codes(y_pred, vocab)
        for metric, fn in _confusion_statistics(len(labels), len(vocab)).items():
            result.bootstrap[metric] = bootstrap_ci(fn, t, p, n_resamples=n_bootstrap, random_state=random_state)

    _add_scores(result, pred, p_idx, predictions.score_classes, positive, band_resamples)
    _add_calibration(result, n_bins)
    return result


def _add_scores(
    result: Evaluation,
    pred: pd.DataFrame,
    p_idx: np.ndarray,
    score_classes: list[str],
    positive: str | None,
    band_resamples: int,
) -> None:
    """ROC/PR curves: one positive-class curve for a binary task, one-vs-rest curves otherwise."""
    cases, labels = result.cases, result.labels
    y_true = cases["truth"].to_numpy(str)
    if result.binary:
        result.positive = choose_positive(labels, pred, positive)
        score = None
        if "probability" in pred and pred["probability"].notna().any():
            score = pred["probability"].to_numpy(float)[p_idx]
        elif result.positive in score_classes:
            score = pred[f"p_{result.positive}"].to_numpy(float)[p_idx]
        if score is None:
            return
        cases["score_positive"] = score
        ok = np.isfinite(score)
        y = (y_true[ok] == result.positive).astype(int)
        if 0 < y.sum() < len(y):
            result.rocs = [roc_curve_ci(y, score[ok], result.positive, band_resamples=band_resamples)]
            result.prs = [pr_curve(y, score[ok], result.positive)]
        return
    scored = [c for c in labels if c in score_classes]
    if not scored:
        return
    scores = pred[[f"p_{c}" for c in scored]].to_numpy(float)[p_idx]
    ok = np.isfinite(scores).all(axis=1)
    result.rocs, result.prs = one_vs_rest(y_true[ok], scores[ok], scored, band_resamples=0)


def _add_calibration(result: Evaluation, n_bins: int) -> None:
    """Reliability of the positive-class probability (binary) or of the top-label confidence; risk–coverage."""
    cases = result.cases
    decided = (cases["pred"] != UNKNOWN).to_numpy()
    if result.binary and "score_positive" in cases:
        score = cases["score_positive"].to_numpy(float)
        ok = np.isfinite(score) & (score >= 0) & (score <= 1)
        outcome = (cases["truth"].to_numpy(str)[ok] == result.positive).astype(int)
        result.calibration_kind = f"probability of {result.positive}"
        result.calibration = reliability_table(outcome, score[ok], n_bins)
        result.ece = expected_calibration_error(outcome, score[ok], n_bins)
    elif "confidence" in cases:
        conf = cases["confidence"].to_numpy(float)
        ok = decided & np.isfinite(conf) & (conf >= 0) & (conf <= 1)
        if ok.any():
            outcome = cases["correct"].to_numpy()[ok].astype(int)
            result.calibration_kind = "top-label confidence (prediction correct)"
            result.calibration = reliability_table(outcome, conf[ok], n_bins)
            result.ece = expected_calibration_error(outcome, conf[ok], n_bins)
    if "confidence" in cases:
        result.risk_coverage = risk_coverage_curve(cases["correct"], cases["confidence"], ~decided)


def _common(evaluations: Sequence[Evaluation]) -> list[pd.DataFrame]:
    """Each evaluation's cases restricted to the truth rows every evaluation matched, in the same order."""
    shared = set.intersection(*(set(e.cases["truth_index"]) for e in evaluations))
    return [
        e.cases[e.cases["truth_index"].isin(shared)].sort_values("truth_index").reset_index(drop=True)
        for e in evaluations
    ]


def compare_evaluations(evaluations: Sequence[Evaluation], alpha: float = 0.05) -> dict[str, Any]:
    """Tests between classifiers on the truth rows they all matched.

    Pairwise McNemar (paired) and χ² (treating the two as independent samples), DeLong for binary tasks
    where both give positive-class scores, per-class precision/recall/F1 side by side, and with three or
    more classifiers the Friedman test with Nemenyi post-hoc over per-class F1 (classes = blocks).
    """
    common = _common(evaluations)
    names = [e.name for e in evaluations]
    n = len(common[0]) if common else 0
    labels = class_labels(common[0]["truth"], pd.concat([c["pred"] for c in common])) if n else []
    tables = {e.name: per_class_metrics(c["truth"], c["pred"], labels) for e, c in zip(evaluations, common)}
    side_by_side = pd.concat(
        {
            name: t[["precision", "sensitivity", "f1", "support"]].rename(columns={"sensitivity": "recall"})
            for name, t in tables.items()
        },
        axis=1,
    )
    pairs = []
    for (i, a), (j, b) in combinations(enumerate(evaluations), 2):
        ca, cb = common[i]["correct"].to_numpy(), common[j]["correct"].to_numpy()
        row: dict[str, Any] = {
            "a": a.name,
            "b": b.name,
            "n": n,
            "accuracy_a": float(ca.mean()) if n else float("nan"),
            "accuracy_b": float(cb.mean()) if n else float("nan"),
        }
        if n:
            mc, ch = mcnemar_test(ca, cb), chi2_test(ca, cb)
            row |= {
                "mcnemar": {"method": mc.method, "statistic": mc.statistic, "p_value": mc.p_value, **mc.counts},
                "chi2": {"statistic": ch.statistic, "p_value": ch.p_value},
            }
        scored = "score_positive" in common[i] and "score_positive" in common[j]
        if a.binary and b.binary and a.positive == b.positive and scored:
            sa, sb = common[i]["score_positive"].to_numpy(float), common[j]["score_positive"].to_numpy(float)
            ok = np.isfinite(sa) & np.isfinite(sb)
            y = (common[i]["truth"].to_numpy(str)[ok] == a.positive).astype(int)
            if 0 < y.sum() < len(y):
                dl = delong_test(y, sa[ok], sb[ok])
                row["delong"] = {"auc_a": dl.auc_a, "auc_b": dl.auc_b, "z": dl.z, "p_value": dl.p_value}
        pairs.append(row)
    out: dict[str, Any] = {"classifiers": names, "n_common": n, "pairwise": pairs, "per_class": side_by_side}
    if len(evaluations) >= 3 and n:
        f1 = pd.DataFrame({name: t["f1"][t["support"] > 0] for name, t in tables.items()})
        try:
            out["friedman_nemenyi"] = friedman_nemenyi(f1.to_numpy(), names, alpha)
        except ValueError as exc:  # too few classes with an F1 for every classifier
            out["friedman_nemenyi_skipped"] = str(exc)
    return out
