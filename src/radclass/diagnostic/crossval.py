"""Stratified k-fold cross-validation of an image classifier, by patient where patient IDs exist (torch)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from radclass.diagnostic.datasets import ImageArrays
from radclass.diagnostic.finetune import predict_proba
from radclass.diagnostic.training import TrainSpec, train_classifier
from radclass.diagnostic.transforms import eval_inputs

__all__ = ["CrossValidation", "cross_validate", "fold_indices"]


def _prefixed(log: Callable[[str], None], prefix: str) -> Callable[[str], None]:
    """A log function that hands ``prefix + message`` to ``log``."""
    return lambda message: log(prefix + message)


def fold_indices(
    y: np.ndarray, groups: np.ndarray | None, k: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs: ``StratifiedGroupKFold`` when patient ``groups`` are given (no patient on
    both sides), else ``StratifiedKFold``; both shuffled with ``seed``."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    idx = np.arange(len(y))
    if groups is not None:
        return list(StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(idx, y, groups))
    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(idx, y))


@dataclass
class CrossValidation:
    """Out-of-fold probabilities (N, K), the fold of each image, and per-fold records."""

    probabilities: np.ndarray
    fold: np.ndarray
    folds: list[dict] = field(default_factory=list)

    @property
    def best_epochs(self) -> list[int]:
        return [f["best_epoch"] for f in self.folds]


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else None


def cross_validate(
    data: ImageArrays,
    spec: TrainSpec,
    *,
    k: int = 5,
    groups: np.ndarray | None = None,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> CrossValidation:
    """Train on k-1 folds, predict the held-out fold, k times; every image is predicted exactly once."""
    n, n_classes = len(data.y), len(data.classes)
    proba = np.full((n, n_classes), np.nan, np.float32)
    fold_of = np.full(n, -1, np.int64)
    records: list[dict[str, Any]] = []
    for f, (train, test) in enumerate(fold_indices(data.y, groups, k, seed)):
        result = train_classifier(
            data.take(train),
            spec,
            groups=None if groups is None else groups[train],
            log=_prefixed(log, f"fold {f + 1}/{k}: ") if log else None,
        )
        p = predict_proba(result.model, eval_inputs(data.x[test], data.kind, spec.preprocess))
        proba[test], fold_of[test] = p, f
        record: dict[str, Any] = {
            "fold": f + 1,
            "n_train": len(train),
            "n_test": len(test),
            "best_epoch": result.best_epoch,
            "epochs_run": len(result.history),
        }
        if n_classes == 2:
            record["auc"] = _auc(data.y[test], p[:, 1])
        records.append(record)
        if log:
            log(f"fold {f + 1}/{k}: " + ", ".join(f"{k_}={v}" for k_, v in record.items() if k_ != "fold"))
    return CrossValidation(proba, fold_of, records)
