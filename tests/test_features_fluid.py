"""The fluid reading of a T2-family brain volume (radclass.features.fluid): hand-built volumes with a known mask,
and the bundled brain-mask network on a real T2 and FLAIR of the pool."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radclass.features.brain_mask import MASK_SIDE
from radclass.features.fluid import MEASURES, fluid_contrast, fluid_readings


def _sphere(radius: float) -> np.ndarray:
    z, y, x = np.ogrid[:MASK_SIDE, :MASK_SIDE, :MASK_SIDE]
    c = (MASK_SIDE - 1) / 2
    return (x - c) ** 2 + (y - c) ** 2 + (z - c) ** 2 <= radius**2


def _network_of(mask: np.ndarray):
    proba = np.stack([~mask, mask]).astype(np.float32)[None]
    return lambda _x: proba


def _brain(fluid_level: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A sphere of tissue (100, noise 5; 2% dark partial-volume voxels at 5) with fluid voxels at
    ``fluid_level`` in a central 'ventricle' and scattered in the outer 'sulci'."""
    rng = np.random.default_rng(seed)
    brain = _sphere(45)
    volume = np.where(brain, 100.0, 0.0) + rng.normal(0, 5, brain.shape)
    volume[brain & (rng.random(brain.shape) < 0.02)] = 5.0
    volume[_sphere(14)] = fluid_level
    outer = brain & ~_sphere(38)
    volume[outer & (rng.random(brain.shape) < 0.2)] = fluid_level
    return volume.astype(np.float32), brain


@pytest.mark.parametrize("measure", MEASURES)
def test_bright_fluid_reads_positive_and_dark_fluid_negative(measure: str):
    t2, mask = _brain(fluid_level=260.0)
    flair, _ = _brain(fluid_level=15.0)
    network = _network_of(mask)
    assert fluid_contrast(t2, network, measure=measure) > 0.2
    assert fluid_contrast(flair, network, measure=measure) < -0.2


def test_readings_refuse_what_they_cannot_measure():
    volume, mask = _brain(fluid_level=260.0)
    with pytest.raises(ValueError, match="fewer than 16"):
        fluid_readings(volume[:, :, :8], _network_of(mask), min_slices=16)
    with pytest.raises(ValueError, match="no brain"):
        fluid_readings(volume, _network_of(np.zeros_like(mask)))
    with pytest.raises(ValueError, match="Unknown fluid measure"):
        fluid_contrast(volume, _network_of(mask), measure="median")
    assert set(fluid_readings(volume, _network_of(mask))) == set(MEASURES)


def test_the_bundled_mask_reads_a_real_t2_bright_and_its_flair_dark(data_root: Path):
    """open_ms_data's first patient, study 1: a T2 and a FLAIR of one head (with lesions, skull stripped)."""
    from radclass.io.pixels import load_volume
    from radclass.io.volumes import nifti_series
    from radclass.models.bundle import ModelBundle

    bundle = ModelBundle.load()
    folder = data_root / "mri/nifti/open_ms_data/longitudinal/raw/patient01"
    t2 = bundle.fluid_contrast(load_volume(nifti_series(folder / "study1_T2W.nii.gz", None)))
    flair = bundle.fluid_contrast(load_volume(nifti_series(folder / "study1_FLAIR.nii.gz", None)))
    test = bundle.metadata.fluid_contrast
    assert test is not None
    assert test.call(t2) == "T2" and test.call(flair) == "FLAIR", (t2, flair)
