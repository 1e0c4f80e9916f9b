"""The fluid reading of a T2-family brain volume (radclass.features.fluid): hand-built volumes with a known mask,
and the bundled brain-mask network on a real T2 and FLAIR of the pool."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radclass.features.brain_mask import MASK_SIDE, NotAWholeBrain
from radclass.features.fluid import MEASURES, fluid_contrast, fluid_readings


def _sphere(radius: float) -> np.ndarray:
    z, y, x = np.ogrid[:MASK_SIDE, :MASK_SIDE, :MASK_SIDE]
    c = (MASK_SIDE - 1) / 2
    return (x - c) ** 2 + (y - c) ** 2 + (z - c) ** 2 <= radius**2


SPACING = (1.3, 1.3, 1.3)  # mm: the test sphere (radius 45 voxels) is then a whole brain, 840 cm^3, 118 mm across


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
    assert fluid_contrast(t2, network, SPACING, measure=measure) > 0.2
    assert fluid_contrast(flair, network, SPACING, measure=measure) < -0.2


def test_readings_refuse_what_they_cannot_measure():
    volume, mask = _brain(fluid_level=260.0)
    with pytest.raises(ValueError, match="fewer than 16"):
        fluid_readings(volume[:, :, :8], _network_of(mask), SPACING, min_slices=16)
    with pytest.raises(ValueError, match="no brain"):
        fluid_readings(volume, _network_of(np.zeros_like(mask)), SPACING)
    with pytest.raises(ValueError, match="Unknown fluid measure"):
        fluid_contrast(volume, _network_of(mask), SPACING, measure="median")
    with pytest.raises(ValueError, match="no voxel size"):
        fluid_readings(volume, _network_of(mask), None)
    with pytest.raises(ValueError, match="same value"):  # a blank volume: the network is not even asked
        fluid_readings(np.full_like(volume, 7.0), _network_of(mask), SPACING)
    assert set(fluid_readings(volume, _network_of(mask), SPACING)) == set(MEASURES)


def test_only_a_whole_brain_is_measured():
    volume, mask = _brain(fluid_level=260.0)
    with pytest.raises(NotAWholeBrain, match="not a whole brain"):  # the same sphere at 0.5 mm: 50 cm^3
        fluid_readings(volume, _network_of(mask), (0.5, 0.5, 0.5))
    with pytest.raises(NotAWholeBrain, match="longer than a brain"):  # 916 cm^3, but 218 mm along one axis
        fluid_readings(volume, _network_of(mask), (1.0, 1.0, 2.4))


def test_the_bundled_mask_reads_a_real_t2_bright_and_its_flair_dark(data_root: Path):
    """open_ms_data's first patient, study 1: a T2 and a FLAIR of one head (with lesions, skull stripped)."""
    from radclass.io.pixels import load_volume, volume_spacing
    from radclass.io.volumes import nifti_series
    from radclass.models.bundle import ModelBundle

    bundle = ModelBundle.load()
    folder = data_root / "mri/nifti/open_ms_data/longitudinal/raw/patient01"
    t2_series = nifti_series(folder / "study1_T2W.nii.gz", None)
    flair_series = nifti_series(folder / "study1_FLAIR.nii.gz", None)
    t2 = bundle.fluid_contrast(load_volume(t2_series), volume_spacing(t2_series))
    flair = bundle.fluid_contrast(load_volume(flair_series), volume_spacing(flair_series))
    test = bundle.metadata.fluid_contrast
    assert test is not None
    assert test.call(t2) == "T2" and test.call(flair) == "FLAIR", (t2, flair)


def test_a_pelvis_that_the_mask_network_takes_for_a_brain_is_not_measured(data_root: Path):
    """The network finds a confident 'brain' in a prostate T2 (320 cm^3), which the anatomy gate's pixel stage
    does not place outside the brain (undecided): the whole-brain check refuses it."""
    from radclass.io.pixels import load_volume, volume_spacing
    from radclass.io.volumes import nifti_series
    from radclass.models.bundle import ModelBundle

    series = nifti_series(data_root / "mri/nifti/body/monai_testdata/test_0000_t2_tse_tra_4_prostate.nii.gz", None)
    with pytest.raises(NotAWholeBrain, match="not a whole brain"):
        ModelBundle.load().fluid_contrast(load_volume(series), volume_spacing(series))
