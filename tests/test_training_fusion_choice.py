"""The bundle builder's fusion choice keeps weak pixel evidence out: a CNN share needs a McNemar-significant
gain over the forest, and a pixel-only threshold needs enough accepted out-of-fold series from enough groups."""

from __future__ import annotations

import numpy as np

from radclass.models.ensemble import PIXEL_MIN_ACCEPTED, PIXEL_MIN_GROUPS
from radclass.taxonomy import SEQUENCES
from radclass.training.mri_bundle import MriBundleConfig, _choose_fusion


def _onehot(label: str, p: float) -> np.ndarray:
    v = np.full(len(SEQUENCES), (1 - p) / (len(SEQUENCES) - 1), np.float32)
    v[SEQUENCES.index(label)] = p
    return v


def _case(n_header: int, cnn_fixes: int, n_pixel: int, pixel_groups: int):
    """``n_header`` T1 series with headers (the forest wrong on ``cnn_fixes`` of them, by a hair, and the CNN
    right and sure on all), and ``n_pixel`` FLAIR series with pixels only (the CNN right and sure)."""
    y, paths, forest, cnn, groups = [], [], [], {}, []
    for i in range(n_header):
        path = f"h{i}"
        y.append("T1")
        paths.append(path)
        groups.append(f"g{i % 4}")
        forest.append(_mix("T1", "T2") if i < cnn_fixes else _onehot("T1", 0.9))
        cnn[path] = np.stack([_onehot("T1", 0.95)] * 3)  # per-slice probabilities
    for i in range(n_pixel):
        path = f"p{i}"
        y.append("FLAIR")
        paths.append(path)
        groups.append(f"px{i % pixel_groups}")
        forest.append(np.full(len(SEQUENCES), np.nan, np.float32))
        cnn[path] = np.stack([_onehot("FLAIR", 0.95)] * 3)
    return np.array(y, object), paths, np.stack(forest), cnn, np.array(groups, object)


def _mix(right: str, wrong: str) -> np.ndarray:
    v = np.full(len(SEQUENCES), 0.001, np.float32)
    v[SEQUENCES.index(wrong)], v[SEQUENCES.index(right)] = 0.51, 0.48
    return v / v.sum()


def test_a_cnn_share_that_fixes_one_series_is_not_kept():
    y, paths, forest, cnn, groups = _case(40, 1, 0, 1)
    fusion, report = _choose_fusion(y, paths, forest, cnn, MriBundleConfig(), groups)
    assert report["cnn_share_test"]["chosen_by_balanced_accuracy"] > 0  # the grid alone would give it weight
    assert report["cnn_share_test"]["only_fused_correct"] == 1 and report["cnn_share_test"]["p_value"] >= 0.05
    assert fusion["w_cnn"] == 0.0 and fusion["w_forest"] == 1.0


def test_a_cnn_share_that_fixes_many_series_is_kept():
    y, paths, forest, cnn, groups = _case(40, 12, 0, 1)
    fusion, report = _choose_fusion(y, paths, forest, cnn, MriBundleConfig(), groups)
    assert report["cnn_share_test"]["p_value"] < 0.05 and fusion["w_cnn"] > 0


def test_pixel_only_threshold_needs_support_from_several_groups():
    few = _case(10, 0, PIXEL_MIN_ACCEPTED - 1, PIXEL_MIN_GROUPS)
    fusion, report = _choose_fusion(*few[:4], MriBundleConfig(), few[4])
    assert report["pixel_threshold_support"]["chosen_threshold"] < 1.0 and fusion["threshold_pixels"] == 1.0
    one_group = _case(10, 0, 3 * PIXEL_MIN_ACCEPTED, 1)
    fusion, report = _choose_fusion(*one_group[:4], MriBundleConfig(), one_group[4])
    assert report["pixel_threshold_support"]["groups"] == 1 and fusion["threshold_pixels"] == 1.0
    enough = _case(10, 0, 3 * PIXEL_MIN_ACCEPTED, PIXEL_MIN_GROUPS)
    fusion, report = _choose_fusion(*enough[:4], MriBundleConfig(), enough[4])
    assert fusion["threshold_pixels"] == report["pixel_threshold_support"]["chosen_threshold"] < 1.0
