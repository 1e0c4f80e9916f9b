"""SHAP attributions and global importances of a header random forest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

pytest.importorskip("shap")

from radclass.explain.forest import decision_attributions, explain_forest, global_importances, importance_png  # noqa: E402

NAMES = ["RepetitionTime", "EchoTime", "InversionTime", "FlipAngle", "noise"]


@pytest.fixture(scope="module")
def fitted() -> tuple[RandomForestClassifier, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 300
    X = pd.DataFrame({"RepetitionTime": rng.uniform(300, 9000, n), "EchoTime": rng.uniform(5, 120, n),
                      "InversionTime": rng.choice([0, 2200], n), "FlipAngle": rng.uniform(10, 90, n),
                      "noise": rng.normal(size=n)})
    y = np.where(X["InversionTime"] > 0, "FLAIR", np.where(X["EchoTime"] > 60, "T2", "T1"))
    return RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y), X


def test_shap_adds_up_to_predicted_probability(fitted) -> None:
    forest, X = fitted
    expl = explain_forest(forest, X.iloc[:20])
    assert expl.values.shape == (20, 5, 3) and expl.feature_names == NAMES
    total = expl.expected[None, :] + expl.values.sum(axis=1)
    np.testing.assert_allclose(total, forest.predict_proba(X.iloc[:20]), atol=1e-6)
    row = decision_attributions(expl, 0, top=3)
    assert list(row.columns) == ["feature", "value", "shap"] and len(row) == 3
    assert row["shap"].abs().is_monotonic_decreasing
    assert row.attrs["class"] == expl.predicted[0]
    assert row.attrs["probability"] == pytest.approx(forest.predict_proba(X.iloc[:1])[0, list(forest.classes_).index(row.attrs["class"])])
    # the label is decided by InversionTime/EchoTime: noise is never the top reason
    assert decision_attributions(expl, 0)["feature"].iloc[0] in ("InversionTime", "EchoTime")
    assert explain_forest(forest, X.to_numpy()[:2], feature_names=NAMES).feature_names == NAMES


def test_global_importances_and_png(fitted, tmp_path) -> None:
    forest, X = fitted
    impurity = global_importances(forest)
    assert impurity["feature"].iloc[-1] in ("noise", "FlipAngle", "RepetitionTime")
    assert impurity["impurity"].sum() == pytest.approx(1.0)
    with_shap = global_importances(forest, explanation=explain_forest(forest, X.iloc[:50]))
    assert with_shap["feature"].iloc[0] in ("InversionTime", "EchoTime")
    for table in (impurity, with_shap):
        path = importance_png(table, tmp_path / f"imp_{len(table.columns)}.png")
        assert path.read_bytes()[:4] == b"\x89PNG"
