"""ROC/PR curves, calibration, risk–coverage and every plot rendering."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, roc_auc_score

from radclass.evaluate import plots
from radclass.evaluate.calibration import expected_calibration_error, reliability_table, risk_coverage_curve
from radclass.evaluate.curves import one_vs_rest, pr_curve, roc_ci_band, roc_curve_ci
from radclass.evaluate.metrics import confusion


@pytest.fixture(scope="module")
def binary() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    y = (rng.random(200) < 0.3).astype(int)
    score = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(0, 1.2, 200))))
    return y, score


def test_roc_and_pr_agree_with_sklearn(binary) -> None:
    y, score = binary
    roc = roc_curve_ci(y, score, "POS", band_resamples=100)
    assert roc.auc == pytest.approx(roc_auc_score(y, score))
    assert roc.auc_ci[0] < roc.auc < roc.auc_ci[1]
    assert (roc.band_low <= roc.band_high).all() and roc.band_fpr[0] == 0 and roc.band_fpr[-1] == 1
    pr = pr_curve(y, score, "POS")
    assert pr.average_precision == pytest.approx(average_precision_score(y, score))
    assert pr.prevalence == pytest.approx(y.mean())
    grid, low, high = roc_ci_band(y, score, grid=[0, 0.5, 1], n_resamples=50)
    assert list(grid) == [0, 0.5, 1] and high[-1] == 1


def test_one_vs_rest_skips_classes_without_both_outcomes() -> None:
    rng = np.random.default_rng(5)
    classes = ["T1", "T2", "FLAIR"]
    y = rng.choice(["T1", "T2"], 90)  # FLAIR never true: no ROC for it
    scores = rng.dirichlet(np.ones(3), 90)
    rocs, prs = one_vs_rest(y, scores, classes)
    assert [r.label for r in rocs] == ["T1", "T2"] == [p.label for p in prs]
    assert rocs[0].auc == pytest.approx(roc_auc_score(y == "T1", scores[:, 0]))


def test_reliability_matches_sklearn_and_ece_by_hand() -> None:
    rng = np.random.default_rng(6)
    prob = rng.random(500)
    outcome = (rng.random(500) < prob**1.5).astype(int)
    table = reliability_table(outcome, prob, n_bins=10)
    freq, conf = calibration_curve(outcome, prob, n_bins=10)
    used = table["count"] > 0
    np.testing.assert_allclose(table["frequency"][used], freq)
    np.testing.assert_allclose(table["confidence"][used], conf)
    # hand case: two bins, confidences 0.2 (observed 0/2) and 0.9 (observed 1/2) -> ECE = (2*0.2 + 2*0.4) / 4
    assert expected_calibration_error([0, 0, 1, 0], [0.2, 0.2, 0.9, 0.9], n_bins=10) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        reliability_table([1], [1.5])


def test_risk_coverage_with_abstentions() -> None:
    correct = np.array([1, 1, 0, 1, 0, 0], bool)
    confidence = np.array([0.9, 0.8, 0.8, 0.6, 0.5, 0.99])
    abstained = np.array([0, 0, 0, 0, 0, 1], bool)  # the most confident one said UNKNOWN
    rc = risk_coverage_curve(correct, confidence, abstained)
    # accepted in order: 0.9 (ok) | 0.8, 0.8 tied (ok, wrong) | 0.6 (ok) | 0.5 (wrong); never the abstention
    np.testing.assert_allclose(rc.coverage, [1 / 6, 3 / 6, 4 / 6, 5 / 6])
    np.testing.assert_allclose(rc.risk, [0, 1 / 3, 1 / 4, 2 / 5])
    np.testing.assert_allclose(rc.thresholds, [0.9, 0.8, 0.6, 0.5])
    assert rc.operating_point == pytest.approx((5 / 6, 2 / 5))
    assert rc.aurc == pytest.approx(0 * 1 / 6 + 1 / 3 * 2 / 6 + 1 / 4 * 1 / 6 + 2 / 5 * 1 / 6)


def test_every_plot_renders(tmp_path, binary) -> None:
    y, score = binary
    labels = ["NEG", "POS"]
    truth = np.array(labels)[y]
    pred = np.array(labels)[(score > 0.5).astype(int)]
    pred[:3] = "UNKNOWN"
    rc = risk_coverage_curve(truth == pred, np.maximum(score, 1 - score), pred == "UNKNOWN")
    figures = {
        "cm": plots.confusion_matrix_figure(confusion(truth, pred, labels)),
        "cm_norm": plots.confusion_matrix_figure(confusion(truth, pred, labels, normalize=True), normalized=True),
        "roc": plots.roc_figure([roc_curve_ci(y, score, "POS", band_resamples=20)]),
        "pr": plots.pr_figure([pr_curve(y, score, "POS")]),
        "rel": plots.reliability_figure(reliability_table(y, score), ece=expected_calibration_error(y, score)),
        "rc": plots.risk_coverage_figure({"model": rc}),
        "imp": plots.importance_figure(["a", "b", "c"], [0.5, 0.2, 0.3], errors=[0.1, 0.05, 0.02]),
        "empty_roc": plots.roc_figure([]),
    }
    for name, fig in figures.items():
        path = plots.save_png(fig, tmp_path / f"{name}.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 2000
    assert plots.png_base64(figures["roc"]).startswith("iVBOR")
