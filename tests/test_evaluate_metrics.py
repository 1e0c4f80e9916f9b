"""Classification metrics against hand-computed values, scikit-learn and statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import (
    balanced_accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    precision_recall_fscore_support,
)
from statsmodels.stats.proportion import proportion_confint

from radclass.evaluate.evaluation import _codes, _confusion_statistics
from radclass.evaluate.metrics import clopper_pearson, confusion, overall_metrics, per_class_metrics

# 10 cases, 3 classes, one abstention (UNKNOWN)
Y_TRUE = ["A", "A", "A", "A", "B", "B", "B", "C", "C", "C"]
Y_PRED = ["A", "A", "B", "UNKNOWN", "B", "B", "A", "C", "C", "B"]


def test_clopper_pearson_matches_statsmodels_and_scipy() -> None:
    for k, n in [(0, 10), (3, 10), (10, 10), (57, 80), (1, 1)]:
        low, high = clopper_pearson(k, n)
        assert (low, high) == pytest.approx(proportion_confint(k, n, alpha=0.05, method="beta"))
        exact = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
        assert (low, high) == pytest.approx((exact.low, exact.high), abs=1e-9)
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0
    # published value: 95% exact CI for 0/10 is (0, 0.3085)
    assert clopper_pearson(0, 10)[1] == pytest.approx(0.30850, abs=1e-5)
    assert np.isnan(clopper_pearson(0, 0)).all()


def test_per_class_hand_computed() -> None:
    t = per_class_metrics(Y_TRUE, Y_PRED)
    assert list(t.index) == ["A", "B", "C"]
    a = t.loc["A"]  # TP 2, FN 2 (one to B, one abstained), FP 1 (a B called A), TN 5
    assert (a.tp, a.fn, a.fp, a.tn, a.support) == (2, 2, 1, 5, 4)
    assert a.sensitivity == pytest.approx(0.5)
    assert a.specificity == pytest.approx(5 / 6)
    assert a.precision == pytest.approx(2 / 3)
    assert a.accuracy == pytest.approx(0.7)
    assert a.f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 2))
    assert (a.sensitivity_ci_low, a.sensitivity_ci_high) == pytest.approx(clopper_pearson(2, 4))
    b = t.loc["B"]  # TP 2, FP 2 (an A and a C called B), FN 1
    assert (b.tp, b.fp, b.fn, b.tn) == (2, 2, 1, 5)


def test_per_class_and_overall_match_sklearn() -> None:
    rng = np.random.default_rng(1)
    labels = ["T1", "T2", "FLAIR", "DWI"]
    y_true = rng.choice(labels, 300)
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.choice(labels + ["UNKNOWN"], 300))
    t = per_class_metrics(y_true, y_pred, labels)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=np.nan)
    np.testing.assert_allclose(t["precision"], p)
    np.testing.assert_allclose(t["sensitivity"], r)
    np.testing.assert_allclose(t["f1"], f)
    np.testing.assert_array_equal(t["support"], s)
    o = overall_metrics(y_true, y_pred, labels)
    assert o["accuracy"] == pytest.approx(np.mean(y_true == y_pred))
    with pytest.warns(UserWarning):  # sklearn warns that UNKNOWN is not a true class
        assert o["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert o["cohen_kappa"] == pytest.approx(cohen_kappa_score(y_true, y_pred, labels=labels + ["UNKNOWN"]))
    for name, ours in (("precision", "weighted_precision"), ("recall", "weighted_sensitivity"), ("f1", "weighted_f1")):
        idx = {"precision": 0, "recall": 1, "f1": 2}[name]
        ref = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="weighted", zero_division=0)[idx]
        assert o[ours] == pytest.approx(ref)
    decided = y_pred != "UNKNOWN"
    assert o["coverage"] == pytest.approx(decided.mean())
    assert o["selective_accuracy"] == pytest.approx(np.mean(y_true[decided] == y_pred[decided]))


def test_confusion_counts_and_row_normalised() -> None:
    cm = confusion(Y_TRUE, Y_PRED, ["A", "B", "C"])
    assert list(cm.columns) == ["A", "B", "C", "UNKNOWN"]
    np.testing.assert_array_equal(cm.to_numpy(), [[2, 1, 0, 1], [1, 2, 0, 0], [0, 1, 2, 0]])
    norm = confusion(Y_TRUE, Y_PRED, ["A", "B", "C"], normalize=True)
    np.testing.assert_allclose(norm.sum(axis=1), 1.0)
    assert norm.loc["A", "UNKNOWN"] == pytest.approx(0.25)
    assert list(confusion(["A", "B"], ["A", "A"], ["A", "B"]).columns) == ["A", "B"]  # no abstention column


def test_fast_bootstrap_statistics_equal_sklearn() -> None:
    rng = np.random.default_rng(2)
    labels = ["a", "b", "c"]
    y_true = rng.choice(labels, 120)
    y_pred = np.where(rng.random(120) < 0.6, y_true, rng.choice(labels + ["UNKNOWN"], 120))
    vocab = labels + ["UNKNOWN"]
    stats = _confusion_statistics(len(labels), len(vocab))
    t, p = _codes(y_true, vocab), _codes(y_pred, vocab)
    assert stats["cohen_kappa"](t, p) == pytest.approx(cohen_kappa_score(y_true, y_pred, labels=vocab))
    assert stats["macro_f1"](t, p) == pytest.approx(per_class_metrics(y_true, y_pred, labels)["f1"].mean())
    cm = confusion_matrix(y_true, y_pred, labels=vocab)[:3, :3]
    assert stats["balanced_accuracy"](t, p) == pytest.approx(np.mean(np.diag(cm) / (y_true[:, None] == labels).sum(0)))


def test_balanced_accuracy_is_sklearns() -> None:
    from radclass.evaluate.metrics import balanced_accuracy, balanced_accuracy_from_counts

    expected = balanced_accuracy_score(Y_TRUE, Y_PRED)  # UNKNOWN: a miss of the true class
    assert balanced_accuracy(Y_TRUE, Y_PRED) == pytest.approx(expected)
    assert balanced_accuracy(Y_TRUE, Y_PRED) == pytest.approx((2 / 4 + 2 / 3 + 2 / 3) / 3)
    rng = np.random.default_rng(5)
    codes_true, codes_pred = rng.integers(0, 4, 200), rng.integers(0, 5, 200)  # integer codes, a class never true
    assert balanced_accuracy(codes_true, codes_pred) == pytest.approx(balanced_accuracy_score(codes_true, codes_pred))
    counts = confusion_matrix(Y_TRUE, Y_PRED, labels=["A", "B", "C", "UNKNOWN"])[:3]
    assert balanced_accuracy_from_counts(counts) == pytest.approx(expected)
    assert np.isnan(balanced_accuracy([], [])) and balanced_accuracy([], [], empty=0.0) == 0.0
    with pytest.raises(ValueError, match="differ in length"):
        balanced_accuracy(["A"], ["A", "B"])


def test_training_scores_use_the_metrics_home() -> None:
    """The forest tuning's score of probabilities (NaN rows never predicted) is the one balanced accuracy."""
    from radclass.taxonomy import SEQUENCES
    from radclass.training.forest import balanced_accuracy as forest_score

    y = np.array([SEQUENCES[0], SEQUENCES[0], SEQUENCES[1], SEQUENCES[1]])
    proba = np.zeros((4, len(SEQUENCES)))
    proba[0, 0] = proba[2, 1] = proba[3, 0] = 1.0
    proba[1] = np.nan  # no prediction: wrong
    pred = [SEQUENCES[0], "", SEQUENCES[1], SEQUENCES[0]]
    assert forest_score(y, proba) == pytest.approx(balanced_accuracy_score(y, pred)) == pytest.approx(0.5)
