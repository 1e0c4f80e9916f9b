"""The tissue-contrast signature: shape, physics on simulated heads, geometry, real pool series."""

from __future__ import annotations

import numpy as np
import pytest

from radclass.features.contrast import (FEATURE_NAMES, GEOMETRY_NAMES, PixelGeometry, contrast_features,
                                        geometry_features, series_geometry)


def _simulated(sequence: str, seed: int) -> list[np.ndarray]:
    from radclass.simulate.slices import simulate_slices

    return list(simulate_slices(sequence, "AX", np.random.default_rng(seed), n_slices=6, size=96))


def test_signature_has_one_value_per_name():
    f = contrast_features(_simulated("T1", 0))
    assert f.shape == (len(FEATURE_NAMES),) and f.dtype == np.float32 and np.all(np.isfinite(f))
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)


def test_white_matter_mode_is_bright_in_t1_and_dark_in_t2():
    i = FEATURE_NAMES.index("deep_mode_position")
    t1 = np.mean([contrast_features(_simulated("T1", s))[i] for s in range(3)])
    t2 = np.mean([contrast_features(_simulated("T2", s))[i] for s in range(3)])
    assert t1 > t2 + 0.2


def test_signature_ignores_the_intensity_scale():
    slices = _simulated("FLAIR", 1)
    a = contrast_features(slices)
    b = contrast_features([s * 37.0 for s in slices])
    intensity = [j for j, n in enumerate(FEATURE_NAMES) if n not in GEOMETRY_NAMES and n != "log10_median_value"
                 and n != "integer_valued" and n != "n_levels"]
    np.testing.assert_allclose(a[intensity], b[intensity], atol=1e-3)


def test_blank_slices_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="foreground"):
        contrast_features([np.zeros((64, 64), np.float32)])


def test_geometry_is_plane_independent():
    ax = series_geometry({"pixel_spacing": "0.9\\0.9", "slice_thickness": 5.0}, 24, "dicom")
    sag = series_geometry({"pixel_spacing": "5\\0.9", "slice_thickness": 0.9}, 24, "nifti")
    np.testing.assert_allclose(geometry_features(ax), geometry_features(sag))
    assert series_geometry({}, 1, "image") == PixelGeometry()
    assert geometry_features(None)[-1] == 0.0
    four_d = series_geometry({"pixel_spacing": "3\\3", "slice_thickness": 3, "temporal_positions": 10}, 360, "nifti")
    assert four_d.n_volumes == 10 and four_d.n_slices == 36


def test_signature_of_real_pool_volumes(pool_scan):
    from radclass.features.contrast import series_signature

    nifti = [s for s in pool_scan.series if s.format == "nifti" and "nichart_demo" in s.path][:2]
    png = [s for s in pool_scan.series if s.format == "image" and "ixi_guys" in s.path][:1]
    assert nifti
    for s in nifti + png:
        f = series_signature(s, 6)
        assert np.all(np.isfinite(f))
