"""Grey against white matter (radclass.features.grey_white) and the one-mask brain readings
(radclass.features.brain_readings): hand-built parenchyma with a known tissue order, a hand-built brain with a
known mask, and the bundled brain-mask network on a real T1 and FLAIR of the pool."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radclass.features import fluid
from radclass.features.brain_mask import MASK_SIDE
from radclass.features.brain_readings import brain_readings
from radclass.features.grey_white import MEASURES, grey_white_measure


def _parenchyma(grey: float, seed: int = 0, n: int = 40_000) -> tuple[np.ndarray, np.ndarray]:
    """Deep brain voxels: 65% white matter at 100, 25% grey matter at ``grey``, 10% dark fluid at 20 (noise 4),
    all 10 voxels deep."""
    rng = np.random.default_rng(seed)
    level = rng.choice([100.0, grey, 20.0], size=n, p=[0.65, 0.25, 0.10])
    return level + rng.normal(0, 4, n), np.full(n, 10.0)


@pytest.mark.parametrize("measure", MEASURES)
def test_grey_below_white_reads_negative_and_above_positive(measure: str):
    t1_values, depth = _parenchyma(grey=80.0)  # T1: white matter the brightest tissue
    flair_values, _ = _parenchyma(grey=118.0)  # FLAIR: grey matter above white
    assert grey_white_measure(t1_values, depth, measure) < -0.1
    assert grey_white_measure(flair_values, depth, measure) > 0.1
    # the reading is a ratio of intensities: a scanner's gain does not move it
    assert grey_white_measure(t1_values * 7.5, depth, measure) == pytest.approx(
        grey_white_measure(t1_values, depth, measure)
    )


def test_too_little_deep_tissue_or_an_unknown_measure_is_refused():
    values, depth = _parenchyma(grey=80.0)
    with pytest.raises(ValueError, match="too little deep tissue"):
        grey_white_measure(values, np.zeros_like(depth), "deep4_skew")
    with pytest.raises(ValueError, match="Unknown grey/white measure"):
        grey_white_measure(values, depth, "nope")
    with pytest.raises(ValueError, match="median intensity is not positive"):
        grey_white_measure(values * 0.0, depth, "deep4_skew")


def _sphere(radius: float) -> np.ndarray:
    z, y, x = np.ogrid[:MASK_SIDE, :MASK_SIDE, :MASK_SIDE]
    c = (MASK_SIDE - 1) / 2
    return (x - c) ** 2 + (y - c) ** 2 + (z - c) ** 2 <= radius**2


def test_brain_readings_take_fluid_and_grey_white_from_one_mask():
    rng = np.random.default_rng(1)
    brain = _sphere(45)
    tissue = rng.choice([100.0, 80.0], size=brain.shape, p=[0.7, 0.3]) + rng.normal(0, 4, brain.shape)
    volume = np.where(brain, tissue, 0.0).astype(np.float32)
    volume[_sphere(10)] = 15.0  # a dark ventricle
    calls = []

    def network(x: np.ndarray) -> np.ndarray:
        calls.append(x.shape)
        return np.stack([~brain, brain]).astype(np.float32)[None]

    readings = brain_readings(volume, network, (1.3, 1.3, 1.3))
    assert len(calls) == 1  # one mask for every reading
    assert set(readings) == set(fluid.MEASURES) | set(MEASURES)
    assert readings["fractions"] < 0 and readings["deep6_skew"] < 0  # dark fluid, white matter brightest
    only = brain_readings(volume, network, (1.3, 1.3, 1.3), fluid_measures=("fractions",), grey_white_measures=())
    assert set(only) == {"fractions"}


def test_a_real_t1_and_flair_read_in_the_physical_order(data_root: Path):
    from radclass.io.pixels import load_volume, volume_spacing
    from radclass.io.series import Series
    from radclass.models.bundle import ModelBundle

    bundle = ModelBundle.load()
    folder = data_root / "mri/nifti/deepvoxnet2_brats2018/case_9"
    readings = {}
    for name in ("T1", "FLAIR"):
        series = Series(path=str(folder / f"{name}.nii.gz"), format="nifti", series_uid=name, files=[], header={})
        volume = load_volume(series)
        readings[name] = brain_readings(volume, bundle.brain_mask_proba, volume_spacing(series), min_slices=16)
    for measure in MEASURES:
        assert readings["T1"][measure] < 0 < readings["FLAIR"][measure], readings


def test_a_reused_mask_runs_the_network_once_per_cube():
    from radclass.features.brain_mask import reusing_last_mask

    calls = []

    def network(x: np.ndarray) -> np.ndarray:
        calls.append(1)
        return x * 2

    reused = reusing_last_mask(network)
    a, b = np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32)
    assert (reused(a) == 0).all() and (reused(a.copy()) == 0).all() and len(calls) == 1
    assert (reused(b) == 2).all() and len(calls) == 2
    assert (reused(a) == 0).all() and len(calls) == 3  # only the last cube is remembered
