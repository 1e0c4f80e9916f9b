"""Fusion, majority vote, abstention and header features (pure functions, hand-computed cases)."""

from __future__ import annotations

import numpy as np
import pytest

from radclass.features.header import feature_names, header_features
from radclass.models.ensemble import decide, fuse, majority_vote, threshold_for_error_rate
from radclass.taxonomy import UNKNOWN


def test_fuse_equal_weights_is_normalised_product():
    cnn = np.array([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1]])
    forest = np.array([0.2, 0.7, 0.1])
    p = fuse(cnn, forest)
    expected = np.array([0.6 * 0.2, 0.3 * 0.7, 0.1 * 0.1])
    expected /= expected.sum()
    assert p == pytest.approx(expected, abs=2e-3)


def test_fuse_drops_missing_input_and_rejects_nothing():
    forest = np.array([0.1, 0.9])
    assert fuse(None, forest) == pytest.approx(forest, abs=1e-3)
    assert fuse(np.zeros((0, 2)), forest) == pytest.approx(forest, abs=1e-3)
    with pytest.raises(ValueError):
        fuse(None, None)


def test_majority_vote_gives_the_forest_one_vote_per_image():
    slices = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0]])
    forest = np.array([0.0, 0.4, 0.6])
    votes = majority_vote(slices, forest)
    assert int(np.argmax(votes)) == 2  # CNN: 2 votes for class 0, 1 for class 1; forest: 3 (one per image)
    assert int(np.argmax(majority_vote(slices, None))) == 0  # without a header the slices decide
    unanimous = np.array([[0.1, 0.9, 0.0]] * 3)
    tie = majority_vote(unanimous, forest)  # 3 CNN votes v 3 forest votes: the higher mean probability wins
    assert int(np.argmax(tie)) == 1


def test_decide_abstains_below_threshold():
    classes = ["T1", "T2"]
    assert decide(np.array([0.55, 0.45]), classes, 0.6).label == UNKNOWN
    d = decide(np.array([0.55, 0.45]), classes, 0.5)
    assert (d.label, d.top) == ("T1", "T1")


def test_threshold_for_error_rate():
    conf = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5])
    correct = np.array([1, 1, 1, 0, 1, 0], bool)
    # accepting down to 0.8 -> 0 errors; 0.7 -> 1/4 = 25 %; 0.6 -> 1/5 = 20 %
    assert threshold_for_error_rate(conf, correct, 0.0) == 0.8
    assert threshold_for_error_rate(conf, correct, 0.2) == 0.6


def test_header_features_physics_and_missing_values():
    names = feature_names()
    row = {"image_type": "ORIGINAL\\PRIMARY\\M\\ND", "scanning_sequence": "SE\\IR", "repetition_time": 9000,
           "echo_time": 90, "inversion_time": 2500, "mr_acquisition_type": "2D", "modality": "MR"}
    f = dict(zip(names, header_features(row)))
    assert f["ss_IR"] == 1 and f["ss_GR"] == 0 and f["it_ORIGINAL"] == 1
    assert f["ti_over_tr"] == pytest.approx(2500 / 9000)
    assert f["flip_angle"] == -1  # missing -> -1
    empty = header_features({})
    assert empty.shape == (len(names),) and np.isfinite(empty).all()
