"""Evaluation of classifiers: metrics with exact and bootstrap intervals, ROC/PR with DeLong, calibration,
risk–coverage of abstaining classifiers, tests between classifiers, plots and the HTML report.

Submodules do one job each: :mod:`~radclass.evaluate.metrics`, :mod:`~radclass.evaluate.delong`,
:mod:`~radclass.evaluate.curves`, :mod:`~radclass.evaluate.bootstrap`, :mod:`~radclass.evaluate.calibration`,
:mod:`~radclass.evaluate.compare`, :mod:`~radclass.evaluate.inputs`, :mod:`~radclass.evaluate.evaluation`,
:mod:`~radclass.evaluate.plots` and :mod:`~radclass.evaluate.report`.
"""

from radclass.evaluate.bootstrap import BootstrapCI, bootstrap_ci
from radclass.evaluate.calibration import (
    RiskCoverage,
    expected_calibration_error,
    reliability_table,
    risk_coverage_curve,
)
from radclass.evaluate.compare import (
    FriedmanNemenyi,
    TestResult,
    chi2_test,
    friedman_nemenyi,
    mcnemar_test,
    nemenyi_critical_difference,
)
from radclass.evaluate.curves import PRCurve, ROCCurve, one_vs_rest, pr_curve, roc_ci_band, roc_curve_ci
from radclass.evaluate.delong import DeLongTest, delong_auc_ci, delong_covariance, delong_roc_variance, delong_test
from radclass.evaluate.evaluation import Evaluation, choose_positive, compare_evaluations, evaluate_predictions
from radclass.evaluate.inputs import Match, Predictions, match_paths, read_predictions, read_truth
from radclass.evaluate.metrics import (
    balanced_accuracy,
    balanced_accuracy_from_counts,
    class_labels,
    clopper_pearson,
    confusion,
    overall_metrics,
    per_class_metrics,
)
from radclass.evaluate.report import comparison_json, evaluation_json, run_evaluation, write_report

__all__ = [
    "BootstrapCI",
    "DeLongTest",
    "Evaluation",
    "FriedmanNemenyi",
    "Match",
    "PRCurve",
    "Predictions",
    "ROCCurve",
    "RiskCoverage",
    "TestResult",
    "bootstrap_ci",
    "chi2_test",
    "choose_positive",
    "class_labels",
    "balanced_accuracy",
    "balanced_accuracy_from_counts",
    "clopper_pearson",
    "compare_evaluations",
    "comparison_json",
    "confusion",
    "delong_auc_ci",
    "delong_covariance",
    "delong_roc_variance",
    "delong_test",
    "evaluate_predictions",
    "evaluation_json",
    "expected_calibration_error",
    "friedman_nemenyi",
    "match_paths",
    "mcnemar_test",
    "nemenyi_critical_difference",
    "one_vs_rest",
    "overall_metrics",
    "per_class_metrics",
    "pr_curve",
    "read_predictions",
    "read_truth",
    "reliability_table",
    "risk_coverage_curve",
    "roc_ci_band",
    "roc_curve_ci",
    "run_evaluation",
    "write_report",
]
