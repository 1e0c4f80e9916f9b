"""Explanations of the header random forest: per-decision SHAP attributions and global importances.

SHAP values come from ``shap.TreeExplainer`` (exact for tree ensembles, Lundberg et al. 2020); for each case
and class they add up with the expected value to the forest's predicted probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["ForestExplanation", "decision_attributions", "explain_forest", "global_importances", "importance_png"]


@dataclass(frozen=True)
class ForestExplanation:
    """SHAP values (n cases, n features, n classes), expected values (n classes) and the forest's predictions."""

    values: np.ndarray
    expected: np.ndarray
    feature_names: list[str]
    classes: list[str]
    predicted: np.ndarray
    data: np.ndarray


def _names(forest, feature_names: Sequence[str] | None, n_features: int) -> list[str]:
    if feature_names is not None:
        return [str(n) for n in feature_names]
    fitted = getattr(forest, "feature_names_in_", None)
    return [str(n) for n in fitted] if fitted is not None else [f"x{i}" for i in range(n_features)]


def explain_forest(
    forest, X: ArrayLike | pd.DataFrame, feature_names: Sequence[str] | None = None
) -> ForestExplanation:
    """SHAP attributions of a fitted scikit-learn ``RandomForestClassifier`` for the rows of ``X``."""
    import shap

    data = X.to_numpy(dtype=float) if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=float)
    if isinstance(X, pd.DataFrame) and feature_names is None:
        names = [str(c) for c in X.columns]
    else:
        names = _names(forest, feature_names, data.shape[1])
    fitted_names = getattr(forest, "feature_names_in_", None)
    # the forest sees what it was fitted on: a frame with its column names, or a plain array
    inputs = pd.DataFrame(data, columns=fitted_names) if fitted_names is not None else data
    explainer = shap.TreeExplainer(forest)
    values = np.asarray(explainer.shap_values(inputs, check_additivity=True))
    classes = [str(c) for c in forest.classes_]
    if values.ndim == 2:  # one output: give it a class axis
        values = values[..., None]
    expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    predicted = np.asarray(forest.classes_)[forest.predict_proba(inputs).argmax(axis=1)].astype(str)
    return ForestExplanation(values, expected, names, classes, predicted, data)


def decision_attributions(
    explanation: ForestExplanation, row: int, cls: str | None = None, top: int | None = 10
) -> pd.DataFrame:
    """One decision's attributions for class ``cls`` (default: the predicted class), largest |SHAP| first.

    Columns: ``feature``, ``value`` (the case's feature value), ``shap`` (contribution to P(cls)).
    """
    cls = explanation.predicted[row] if cls is None else str(cls)
    k = explanation.classes.index(cls)
    table = pd.DataFrame(
        {"feature": explanation.feature_names, "value": explanation.data[row], "shap": explanation.values[row, :, k]}
    )
    table = table.reindex(table["shap"].abs().sort_values(ascending=False).index).reset_index(drop=True)
    table.attrs |= {
        "class": cls,
        "expected": float(explanation.expected[k]),
        "probability": float(explanation.expected[k] + explanation.values[row, :, k].sum()),
    }
    return table.head(top) if top else table


def global_importances(
    forest, feature_names: Sequence[str] | None = None, explanation: ForestExplanation | None = None
) -> pd.DataFrame:
    """Global feature importances, most important first.

    ``impurity`` (mean decrease in impurity, scikit-learn) with its standard deviation over the trees, and,
    when an ``explanation`` is given, ``mean_abs_shap`` (mean |SHAP| over its cases, summed over classes).
    """
    names = _names(forest, feature_names, forest.n_features_in_)
    per_tree = np.array([tree.feature_importances_ for tree in forest.estimators_])
    table = pd.DataFrame(
        {"feature": names, "impurity": forest.feature_importances_, "impurity_std": per_tree.std(axis=0)}
    )
    if explanation is not None:
        table["mean_abs_shap"] = np.abs(explanation.values).mean(axis=0).sum(axis=1)
    key = "mean_abs_shap" if explanation is not None else "impurity"
    return table.sort_values(key, ascending=False).reset_index(drop=True)


def importance_png(importances: pd.DataFrame, path: Path | str, *, column: str | None = None, top: int = 20) -> Path:
    """Bar plot PNG of :func:`global_importances` (``column`` default: mean |SHAP| if present, else impurity)."""
    from radclass.evaluate.plots import importance_figure, save_png

    column = column or ("mean_abs_shap" if "mean_abs_shap" in importances else "impurity")
    errors = importances["impurity_std"] if column == "impurity" else None
    label = "mean |SHAP| (probability)" if column == "mean_abs_shap" else "mean decrease in impurity"
    fig = importance_figure(
        list(importances["feature"]),
        importances[column],
        errors=errors,
        top=top,
        title="Header random forest: global importance",
        xlabel=label,
    )
    return save_png(fig, path)
