"""Brain-tissue contrast (radclass.features.tissue): the brain mask leaves the scalp out, the ratios follow the
tissue order of the contrast, and degenerate slices give finite values instead of errors."""

from __future__ import annotations

import numpy as np

from radclass.features.contrast import FEATURE_NAMES, contrast_features
from radclass.features.tissue import BRAIN_NAMES, TISSUE_NAMES, brain_mask


def _head(wm: float, gm: float, csf: float, scalp: float = 1.5, size: int = 128) -> np.ndarray:
    """A synthetic axial head: scalp ring, dark skull, cortex ring, white-matter core, ventricles."""
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2, xx - size / 2)
    a = np.zeros((size, size))
    a[r < 60] = scalp
    a[r < 54] = 0.05  # skull
    a[r < 50] = gm
    a[r < 42] = wm
    a[(np.abs(yy - size / 2) < 10) & (np.abs(xx - size / 2) < 4)] = csf
    return a + np.random.default_rng(0).normal(0, 0.01, a.shape)


def _value(x: np.ndarray, name: str) -> float:
    return float(x[FEATURE_NAMES.index(name)])


def test_brain_mask_excludes_the_scalp():
    a = _head(1.0, 0.7, 0.2)
    head = a > 0.02
    head = np.ones_like(head) & (np.hypot(*np.mgrid[-64:64, -64:64]) < 60)
    brain = brain_mask(a / np.median(a[head]), head, 1.0, 0.5)
    r = np.hypot(*np.mgrid[-64:64, -64:64])
    assert brain[r < 40].mean() > 0.95
    assert brain[(r > 55) & (r < 59)].mean() < 0.05


def test_white_matter_brighter_than_cortex_in_t1_and_darker_in_flair():
    t1 = contrast_features([_head(1.0, 0.65, 0.2)] * 3)
    flair = contrast_features([_head(0.8, 1.0, 0.1)] * 3)
    assert _value(t1, "brain_outer_median") < 0.9 < _value(flair, "brain_outer_median")
    assert _value(t1, "brain_above_1.05_wm") < _value(flair, "brain_above_1.05_wm")


def test_degenerate_slices_give_finite_tissue_values():
    flat = np.ones((64, 64))
    disc = (np.hypot(*np.mgrid[-32:32, -32:32]) < 20).astype(float)
    for slices in ([disc], [disc * 3, disc], [np.pad(flat[:20, :20], 22)]):
        x = contrast_features(slices)
        tissue = x[[FEATURE_NAMES.index(n) for n in TISSUE_NAMES]]
        assert np.all(np.isfinite(tissue)), slices
    assert len(set(TISSUE_NAMES)) == len(TISSUE_NAMES) and BRAIN_NAMES[0] in TISSUE_NAMES
