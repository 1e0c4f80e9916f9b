"""DeLong, Friedman/Nemenyi, McNemar, χ² and bootstrap against published values and independent implementations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2_contingency, norm
from sklearn.metrics import roc_auc_score

from radclass.evaluate.bootstrap import bootstrap_ci, bootstrap_indices
from radclass.evaluate.compare import chi2_test, friedman_nemenyi, mcnemar_test, nemenyi_critical_difference
from radclass.evaluate.delong import delong_auc_ci, delong_covariance, delong_roc_variance, delong_test

# pROC's aSAH data set (Turck et al. 2010), marker s100b by outcome: (value, n Good, n Poor) per distinct value.
# Counts derived from pROC's test fixture tests/testthat/helper-roc-expected.R (sensitivity/specificity steps
# of the s100b ROC: 72 Good, 41 Poor). pROC reference (tests/testthat/test-var.R, ci.auc docs):
# auc = 0.73136856368563685, var(delong) = 0.00266868245717244, 95% CI 0.6301-0.8326.
S100B = [
    (2.07, 0, 1), (0.96, 0, 1), (0.86, 0, 1), (0.82, 0, 1), (0.77, 0, 1), (0.74, 0, 1), (0.71, 0, 2), (0.70, 0, 1),
    (0.58, 0, 1), (0.56, 0, 1), (0.52, 0, 1), (0.50, 2, 0), (0.49, 0, 1), (0.48, 1, 1), (0.47, 2, 0), (0.46, 1, 0),
    (0.45, 1, 0), (0.44, 0, 2), (0.43, 1, 0), (0.41, 0, 1), (0.38, 1, 0), (0.35, 0, 1), (0.34, 1, 0), (0.33, 1, 1),
    (0.32, 1, 1), (0.30, 0, 1), (0.28, 1, 0), (0.27, 0, 1), (0.26, 0, 1), (0.25, 0, 1), (0.24, 1, 0), (0.23, 0, 1),
    (0.22, 0, 1), (0.19, 2, 0), (0.18, 1, 0), (0.17, 2, 0), (0.16, 3, 1), (0.15, 4, 0), (0.14, 4, 1), (0.13, 3, 2),
    (0.12, 0, 1), (0.11, 4, 1), (0.10, 7, 2), (0.09, 6, 2), (0.08, 6, 1), (0.07, 6, 3), (0.06, 2, 0), (0.05, 3, 0),
    (0.04, 5, 0), (0.03, 0, 1),
]


def _s100b() -> tuple[np.ndarray, np.ndarray]:
    values = np.array([v for v, _, _ in S100B])
    good = np.array([g for _, g, _ in S100B])
    poor = np.array([p for _, _, p in S100B])
    y = np.r_[np.zeros(good.sum()), np.ones(poor.sum())]
    score = np.r_[np.repeat(values, good), np.repeat(values, poor)]
    return y, score


def _slow_delong(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong et al. (1988) from the Mann-Whitney kernel, O(m n): an independent check of the midrank version."""
    pos, neg = scores[:, y == 1], scores[:, y == 0]
    psi = (pos[:, :, None] > neg[:, None, :]) + 0.5 * (pos[:, :, None] == neg[:, None, :])  # (k, m, n)
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    return v10.mean(axis=1), np.atleast_2d(np.cov(v10)) / pos.shape[1] + np.atleast_2d(np.cov(v01)) / neg.shape[1]


def test_delong_matches_proc_reference_values() -> None:
    y, score = _s100b()
    assert (len(y), int(y.sum())) == (113, 41)
    auc, var = delong_roc_variance(y, score)
    assert auc == pytest.approx(0.73136856368563685, abs=1e-12)
    assert var == pytest.approx(0.00266868245717244, rel=1e-9)
    auc, (low, high) = delong_auc_ci(y, score)
    assert (round(low, 4), round(high, 4)) == (0.6301, 0.8326)


def test_delong_matches_slow_implementation_and_sklearn() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(150) < 0.4).astype(int)
    a = y + rng.normal(0, 1.0, 150)
    b = np.round(0.6 * a + rng.normal(0, 0.8, 150), 1)  # correlated with a, with ties
    aucs, cov = delong_covariance(y, [a, b])
    slow_aucs, slow_cov = _slow_delong(y, np.array([a, b]))
    np.testing.assert_allclose(aucs, slow_aucs, rtol=1e-12)
    np.testing.assert_allclose(cov, slow_cov, rtol=1e-10)
    assert aucs == pytest.approx([roc_auc_score(y, a), roc_auc_score(y, b)])
    test = delong_test(y, a, b)
    z = (slow_aucs[0] - slow_aucs[1]) / np.sqrt(slow_cov[0, 0] + slow_cov[1, 1] - 2 * slow_cov[0, 1])
    assert test.z == pytest.approx(z)
    assert test.p_value == pytest.approx(2 * norm.sf(abs(z)))


def test_delong_edge_cases() -> None:
    y = np.array([0, 0, 1, 1])
    assert delong_auc_ci(y, [0.1, 0.2, 0.8, 0.9]) == (1.0, (1.0, 1.0))
    assert delong_test(y, [0.1, 0.2, 0.8, 0.9], [1, 2, 3, 4]).p_value == 1.0
    with pytest.raises(ValueError, match="positive and one negative"):
        delong_roc_variance([1, 1, 1], [0.1, 0.2, 0.3])


# Demšar (2006), JMLR 7:1-30, Table 6: ranks of four C4.5 variants (C4.5, +m, +cf, +m+cf) on 14 data sets.
DEMSAR_RANKS = np.array([
    [4, 3, 2, 1], [1, 2, 3, 4], [4, 1, 2, 3], [4, 1, 3, 2], [4, 2, 3, 1], [1, 2.5, 4, 2.5], [3, 2, 4, 1],
    [2.5, 2.5, 4, 1], [4, 3, 2, 1], [2.5, 2.5, 2.5, 2.5], [4, 2.5, 1, 2.5], [3, 2, 4, 1], [4, 1, 2, 3], [3, 1, 4, 2],
])


def test_friedman_nemenyi_reproduces_demsar_example() -> None:
    res = friedman_nemenyi(-DEMSAR_RANKS, ["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"])
    np.testing.assert_allclose(res.average_ranks, [3.143, 2.000, 2.893, 1.964], atol=5e-4)
    assert res.chi2_uncorrected == pytest.approx(9.28, abs=5e-3)  # Demšar: chi2_F = 9.28
    assert res.iman_davenport_f == pytest.approx(3.69, abs=5e-3)  # Demšar: F_F = 3.69
    assert res.q_alpha == pytest.approx(2.569, abs=5e-4)  # Demšar Table 5(a), k = 4
    assert res.critical_difference == pytest.approx(1.25, abs=5e-3)  # Demšar: CD = 1.25
    # scipy's statistic is tie-corrected: chi2_F / (1 - sum(t^3 - t) / (N k (k^2 - 1)))
    ties = 6 + 6 + 60 + 6  # iris, lung cancer (pairs), mushroom (four), primary tumor (pair)
    assert res.chi2 == pytest.approx(res.chi2_uncorrected / (1 - ties / (14 * 4 * 15)))
    # C4.5 vs C4.5+m+cf: difference 1.179 < CD(0.05) = 1.25 but > CD(0.10) = 1.12 (Demšar section 3.2.2)
    p = res.pairwise_p.loc["C4.5", "C4.5+m+cf"]
    assert 0.05 < p < 0.10
    assert nemenyi_critical_difference(4, 14, alpha=0.10)[1] == pytest.approx(1.12, abs=5e-3)


def test_friedman_needs_three_methods() -> None:
    with pytest.raises(ValueError, match="≥3 methods"):
        friedman_nemenyi(np.ones((5, 2)))


def _paired(both: int, only_a: int, only_b: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.r_[np.ones(both), np.ones(only_a), np.zeros(only_b), np.zeros(neither)].astype(bool)
    b = np.r_[np.ones(both), np.zeros(only_a), np.ones(only_b), np.zeros(neither)].astype(bool)
    return a, b


def test_mcnemar_published_and_exact() -> None:
    # Agresti (2002) Table 10.1: 794 / 150 / 86 / 570; corrected statistic (|150 - 86| - 1)^2 / 236
    res = mcnemar_test(*_paired(794, 150, 86, 570))
    assert res.method == "mcnemar_chi2"
    assert res.statistic == pytest.approx(63**2 / 236)
    assert res.counts == {"both_correct": 794, "only_a_correct": 150, "only_b_correct": 86, "both_wrong": 570}
    # exact: 5 vs 1 discordant pairs -> p = 2 * P(X <= 1 | 6, 0.5) = 14 / 64
    res = mcnemar_test(*_paired(10, 5, 1, 4))
    assert res.method == "mcnemar_exact" and res.p_value == pytest.approx(14 / 64)
    assert mcnemar_test(*_paired(5, 0, 0, 5)).p_value == 1.0


def test_chi2_two_accuracies() -> None:
    a = np.r_[np.ones(40), np.zeros(10)].astype(bool)
    b = np.r_[np.ones(30), np.zeros(20)].astype(bool)
    res = chi2_test(a, b)
    ref = chi2_contingency([[40, 10], [30, 20]], correction=True)
    assert (res.statistic, res.p_value) == pytest.approx((ref.statistic, ref.pvalue))
    # Yates by hand: expected 35/15 per row, |O - E| = 5 -> (4.5^2) * (2/35 + 2/15)
    assert res.statistic == pytest.approx(4.5**2 * (2 / 35 + 2 / 15))


def test_bootstrap_stratified_and_close_to_normal_interval() -> None:
    y = np.r_[np.zeros(300), np.ones(100)].astype(int)
    idx = bootstrap_indices(y, 50, random_state=1)
    assert (y[idx].sum(axis=1) == 100).all()  # class sizes kept
    rng = np.random.default_rng(0)
    correct = rng.random(400) < 0.8
    ci = bootstrap_ci(lambda t, c: c.mean(), y, correct, n_resamples=2000, random_state=0)
    half = 1.96 * np.sqrt(ci.estimate * (1 - ci.estimate) / 400)
    assert ci.low == pytest.approx(ci.estimate - half, abs=0.01)
    assert ci.high == pytest.approx(ci.estimate + half, abs=0.01)
    assert ci == bootstrap_ci(lambda t, c: c.mean(), y, correct, n_resamples=2000, random_state=0)
    nan_ci = bootstrap_ci(lambda t, c: float("nan"), y, correct, n_resamples=10)
    assert nan_ci.n_resamples == 0 and np.isnan(nan_ci.low)
