"""The header random forest (Kasmanoff et al.'s metadata model): fit, leave-one-dataset-out, ONNX export."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import numpy as np

from radclass.taxonomy import SEQUENCES

DEFAULT_PARAMS: dict = {
    "n_estimators": 100,
    "max_depth": None,
    "min_samples_leaf": 1,
    "max_features": "sqrt",
    "class_weight": "balanced",
}
TUNING_GRID: dict[str, list] = {"max_depth": [None, 10], "min_samples_leaf": [1, 3], "max_features": ["sqrt", 0.3]}


@dataclass
class ForestData:
    """Real rows (with their dataset group) plus synthetic rows used in every training fold."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    X_extra: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    y_extra: np.ndarray = field(default_factory=lambda: np.zeros(0, object))


def fit_forest(X: np.ndarray, y: np.ndarray, params: dict | None = None, seed: int = 0):
    """A RandomForestClassifier on (X, y); missing values are already -1."""
    from sklearn.ensemble import RandomForestClassifier

    p = {**DEFAULT_PARAMS, **(params or {})}
    model = RandomForestClassifier(random_state=seed, n_jobs=-1, **p)
    model.fit(X, y)
    return model


def full_proba(model, X: np.ndarray, classes: Sequence[str] = SEQUENCES) -> np.ndarray:
    """Probabilities over every class of ``classes`` (zero for classes the model never saw)."""
    out = np.zeros((len(X), len(classes)), np.float32)
    if len(X) == 0:
        return out
    proba = model.predict_proba(X)
    for j, c in enumerate(model.classes_):
        out[:, list(classes).index(c)] = proba[:, j]
    return out


def lodo_proba(
    data: ForestData, params: dict | None = None, *, use_extra: bool = True, seed: int = 0, max_folds: int = 10
) -> np.ndarray:
    """Out-of-fold probabilities: each group predicted by a forest trained on the others (leave-one-group-out;
    with more than ``max_folds`` groups, whole groups are dealt into ``max_folds`` folds). Rows of a fold with
    nothing to train on (the other groups have no rows) stay NaN."""
    from radclass.training.split import group_folds

    proba = np.full((len(data.X), len(SEQUENCES)), np.nan, np.float32)
    folds = group_folds(data.groups, max_folds, seed) if len(np.unique(data.groups)) > max_folds else data.groups
    for g in np.unique(folds):
        test = folds == g
        X_tr, y_tr = data.X[~test], data.y[~test]
        if use_extra and len(data.X_extra):
            X_tr = np.concatenate([X_tr, data.X_extra])
            y_tr = np.concatenate([y_tr, data.y_extra])
        if not len(y_tr):
            continue
        proba[test] = full_proba(fit_forest(X_tr, y_tr, params, seed), data.X[test])
    return proba


def balanced_accuracy(y: np.ndarray, proba: np.ndarray) -> float:
    """Balanced accuracy of the rows' most probable classes (NaN rows, never predicted, count as wrong)."""
    from radclass.evaluate.metrics import balanced_accuracy as score

    pred = np.asarray(SEQUENCES + ("",))[
        np.where(np.isnan(proba).any(1), len(SEQUENCES), np.nan_to_num(proba).argmax(1))
    ]
    return score(y, pred)


def tune_forest(
    data: ForestData, grid: dict[str, list] | None = None, seed: int = 0
) -> tuple[dict, list[tuple[dict, float]]]:
    """Pick forest hyper-parameters by leave-one-group-out balanced accuracy."""
    grid = grid or TUNING_GRID
    results = []
    for values in product(*grid.values()):
        params = dict(zip(grid.keys(), values))
        results.append((params, balanced_accuracy(data.y, lodo_proba(data, params, seed=seed))))
    best = max(results, key=lambda r: r[1])[0]
    return best, results


def export_forest_onnx(model, n_features: int, path: Path) -> None:
    """Write a scikit-learn classifier (a forest, or a pipeline ending in a classifier) as ONNX (float input
    ``features``; outputs ``label`` and ``probabilities``, zipmap off)."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    final = model.steps[-1][1] if hasattr(model, "steps") else model
    onx = to_onnx(
        model,
        initial_types=[("features", FloatTensorType([None, n_features]))],
        options={id(final): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    Path(path).write_bytes(onx.SerializeToString())
