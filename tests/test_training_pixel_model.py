"""Nested leave-one-dataset-out of the pixel model: shapes, and no outer fold ever informs its own choices."""

from __future__ import annotations

import numpy as np
import pytest

from radclass.features.contrast import FEATURE_NAMES
from radclass.taxonomy import SEQUENCES
from radclass.training.pixel_model import PixelExamples, PixelModelConfig, nested_lodo


def _examples(seed: int = 0) -> PixelExamples:
    rng = np.random.default_rng(seed)
    n = 60
    y = np.array(["T1", "T2", "FLAIR"] * (n // 3), object)
    X = rng.normal(size=(n, len(FEATURE_NAMES))).astype(np.float32)
    X[:, :8] += np.where(y == "T1", 2.0, np.where(y == "T2", -2.0, 0.0))[:, None]  # a learnable signal
    groups = np.array([f"d{i % 5}" for i in range(n)], object)
    return PixelExamples(X, y, groups, [f"s{i}" for i in range(n)])


CONFIG = PixelModelConfig(n_estimators=20, feature_sets=("all", "intensity"), simulation_choices=(False,),
                          inner_folds=3)


def test_nested_lodo_predicts_every_example_with_inner_choices():
    data = _examples()
    result = nested_lodo(data, PixelExamples.empty(), CONFIG, log=lambda _: None)
    assert result.proba.shape == (60, len(SEQUENCES))
    assert set(result.choices) == set(data.groups)
    assert result.thresholds.shape == (60, len(SEQUENCES))
    assert np.all((result.thresholds > 0) & (result.thresholds <= 1.01))
    assert result.accepted().dtype == bool
    assert (result.predictions() == data.y).mean() > 0.6


def test_an_outer_fold_labels_never_change_its_own_predictions():
    data = _examples()
    base = nested_lodo(data, PixelExamples.empty(), CONFIG, log=lambda _: None)
    scrambled = PixelExamples(data.X, data.y.copy(), data.groups, data.paths)
    held = data.groups == "d0"
    scrambled.y[held] = np.random.default_rng(1).permutation(scrambled.y[held][::-1])
    again = nested_lodo(scrambled, PixelExamples.empty(), CONFIG, log=lambda _: None)
    np.testing.assert_array_equal(base.proba[held], again.proba[held])
    assert base.choices["d0"] == again.choices["d0"]


def test_config_is_validated_with_a_sentence():
    with pytest.raises(ValueError, match="Unknown pixel feature sets"):
        PixelModelConfig(feature_sets=("pixels",)).validate()


def test_class_thresholds_abstain_for_an_unreliable_class_only():
    from radclass.models.ensemble import class_thresholds

    classes = ("T1", "T2")
    # T1 predictions: all right; T2 predictions: half wrong at every confidence
    proba = np.array([[0.9, 0.1]] * 10 + [[0.2, 0.8]] * 10, np.float32)
    y = np.array(["T1"] * 10 + ["T2", "T1"] * 5, object)
    t = class_thresholds(proba, y, classes, max_error=0.1)
    assert t[0] <= 0.9  # T1 accepted
    assert t[1] > 1.0  # T2 never accepted


def test_logistic_classifier_candidate_runs():
    data = _examples()
    config = PixelModelConfig(n_estimators=10, feature_sets=("all",), simulation_choices=(False,),
                              classifiers=("logistic",), inner_folds=3)
    result = nested_lodo(data, PixelExamples.empty(), config, log=lambda _: None)
    assert {c["classifier"] for c in result.choices.values()} == {"logistic"}
    assert (result.predictions() == data.y).mean() > 0.6
