"""The gadolinium evidence of a T1 volume (radclass.features.enhancement): hand-built volumes with a known mask,
deepbet's own resampling, and the bundled brain-mask network on real pool volumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radclass.features.brain_mask import MASK_SIDE, mask_input, resample_cube
from radclass.features.enhancement import UnevenIntensity, enhancement_ratio, flatten_bias


def _sphere(side: int = MASK_SIDE, radius: float = 40.0) -> np.ndarray:
    z, y, x = np.ogrid[:side, :side, :side]
    c = (side - 1) / 2
    return (x - c) ** 2 + (y - c) ** 2 + (z - c) ** 2 <= radius**2


def _network_of(mask: np.ndarray):
    """A network that always answers with ``mask`` (the tests decide what the brain is)."""
    proba = np.stack([~mask, mask]).astype(np.float32)[None]
    return lambda x: proba


def _head(rng: np.random.Generator, bright_voxels: int = 0) -> np.ndarray:
    brain = _sphere()
    volume = np.where(brain, 100.0, 0.0) + rng.normal(0, 2, brain.shape)
    volume[brain & (rng.random(brain.shape) < 0.05)] = 30.0  # CSF: the brain's dark end
    if bright_voxels:
        inside = np.flatnonzero(_sphere(radius=30).ravel())
        volume.ravel()[rng.choice(inside, bright_voxels, replace=False)] = 250.0  # enhancing vessels
    return volume.astype(np.float32)


def test_ratio_rises_with_enhancing_voxels():
    rng = np.random.default_rng(0)
    network = _network_of(_sphere())
    plain = enhancement_ratio(_head(rng), network)
    enhanced = enhancement_ratio(_head(rng, bright_voxels=4000), network)  # ~1.5% of the brain
    assert 1.0 < plain < 1.1
    assert enhanced > 2.0


def _radius() -> np.ndarray:
    z, y, x = np.indices((MASK_SIDE,) * 3)
    c = (MASK_SIDE - 1) / 2
    return np.sqrt((x - c) ** 2 + (y - c) ** 2 + (z - c) ** 2)


def test_flattening_removes_a_bright_centre_but_keeps_vessels():
    rng = np.random.default_rng(1)
    network = _network_of(_sphere())
    centre_gain = 1.0 + np.clip((30 - _radius()) / 30, 0, 1)  # twice as bright at the centre (a 7 T-like field)
    bright = (_head(rng) * centre_gain).astype(np.float32)
    raw, flat = enhancement_ratio(bright, network), enhancement_ratio(bright, network, flatten=8)
    assert raw > 1.3 and flat < raw - 0.1  # the bright centre passes for mild enhancement, less once flattened
    vessels = (_head(rng, bright_voxels=4000) * centre_gain).astype(np.float32)
    assert enhancement_ratio(vessels, network, flatten=8) > 2.0


def test_a_bright_rim_is_refused():
    rng = np.random.default_rng(4)
    rim_gain = 1.0 + np.clip((_radius() - 10) / 30, 0, 1)  # twice as bright at the surface: a receive coil's gain
    with pytest.raises(UnevenIntensity, match="outer band is 1.[0-9]+x as bright as its core"):
        enhancement_ratio((_head(rng) * rim_gain).astype(np.float32), _network_of(_sphere()), flatten=8)


def test_flatten_bias_is_identity_on_a_flat_volume():
    cube = np.full((32, 32, 32), 7.0, np.float32)
    tissue = np.ones(cube.shape, bool)
    np.testing.assert_allclose(flatten_bias(cube, tissue, 4.0), cube, rtol=1e-5)


def test_a_slab_without_deep_tissue_is_refused():
    network = _network_of(_sphere(radius=6))
    with pytest.raises(ValueError, match="too little deep tissue"):
        enhancement_ratio(_head(np.random.default_rng(2)), network)
    with pytest.raises(ValueError, match="three dimensions"):
        resample_cube(np.zeros((4, 4)))


def test_a_volume_thinner_than_min_slices_is_refused_along_any_axis():
    head = _head(np.random.default_rng(3))
    network = _network_of(_sphere())
    assert enhancement_ratio(head, network, min_slices=16) > 0  # 128 voxels on every axis
    slab = head[60:72]  # a sagittal slab of 12 slices: the converter put them on axis 0
    with pytest.raises(ValueError, match="12 slices along the volume's thinnest axis"):
        enhancement_ratio(slab, network, min_slices=16)


def test_resampling_and_normalisation_match_deepbet():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    volume = rng.normal(size=(37, 200, 91)).astype(np.float32)
    expected = torch.nn.functional.interpolate(torch.from_numpy(volume)[None, None], (128,) * 3, mode="nearest-exact")
    np.testing.assert_array_equal(resample_cube(volume), expected[0, 0].numpy())
    x = torch.from_numpy(resample_cube(volume))
    lo, hi = x.quantile(0.005), x.quantile(0.995)
    scaled = ((x - lo) / (hi - lo)).clamp(0, 1)
    want = 0.226 * (scaled - scaled.mean()) / scaled.std() + 0.449
    np.testing.assert_allclose(mask_input(x.numpy())[0, 0], want.numpy(), atol=1e-5)


@pytest.mark.parametrize(
    ("relpath", "post"),
    [
        ("mri/nifti/open_ms_data", False),
        ("mri/nifti/brain_tumor_progression", True),
    ],
)
def test_bundled_test_on_real_volumes(data_root: Path, relpath: str, post: bool):
    """One pool volume of each kind against the shipped threshold (both datasets were in its development set:
    this checks the shipped pipeline end to end, not its generalisation; docs/pixel_model.md has that)."""
    from radclass.io.pixels import load_volume
    from radclass.io.volumes import nifti_series
    from radclass.models.bundle import ModelBundle

    bundle = ModelBundle.load(threads=1)
    test = bundle.metadata.contrast_enhancement
    assert test is not None and bundle.has("brain_mask")
    sequence = "T1C" if post else "T1"
    import csv

    rows = [
        r
        for r in csv.DictReader((data_root / "MANIFEST.csv").open())
        if r["relpath"].startswith(relpath) and r["sequence"] == sequence and r["relpath"].endswith(".nii.gz")
    ]
    assert rows, f"no {sequence} NIfTI under {relpath}"
    ratio = bundle.enhancement_ratio(load_volume(nifti_series(data_root / rows[0]["relpath"], None)))
    assert (ratio >= test.threshold) is post, ratio


def test_a_whole_brain_can_be_required():
    rng = np.random.default_rng(3)
    volume = _head(rng, bright_voxels=4000)
    network = _network_of(_sphere())  # radius 40 voxels: 268 cm^3 at 1 mm, 905 cm^3 at 1.5 mm
    with pytest.raises(ValueError, match="not a whole brain"):
        enhancement_ratio(volume, network, whole_brain=True, spacing=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="no voxel size"):
        enhancement_ratio(volume, network, whole_brain=True)
    measured = enhancement_ratio(volume, network, whole_brain=True, spacing=(1.5, 1.5, 1.5))
    assert measured == enhancement_ratio(volume, network)  # the check changes nothing it lets through


def test_a_timing_only_pelvis_is_not_measured_for_gadolinium(data_root: Path, tmp_path: Path):
    """A prostate T2 written as dcm2niix would write a T1 without its sidecar (TE in descrip, TR in pixdim[4]):
    the mask network finds a 'brain' in it, and the anatomy gate's pixel stage does not place it outside the brain, so the
    gadolinium test asks for a whole brain before it measures a header with timing alone."""
    from dcm2niix_like import dcm2niix_like
    from radclass.io.volumes import nifti_series
    from radclass.models.bundle import ModelBundle
    from radclass.pipeline.annotate import VolumeTest, measure_volume

    target = tmp_path / "pelvis.nii.gz"
    dcm2niix_like(data_root / "mri/nifti/body/monai_testdata/test_0000_t2_tse_tra_4_prostate.nii.gz", target, 10, 500)
    series = nifti_series(target, None)
    ratio, why = measure_volume(series, ModelBundle.load(), VolumeTest.ENHANCEMENT)
    assert ratio is None and "not a whole brain" in why
