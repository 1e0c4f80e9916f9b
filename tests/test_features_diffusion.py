"""The diffusion reading of a time series (radclass.features.diffusion): hand-built frames with the physics of
diffusion, echo decay, BOLD and an ASL M0 frame, and real pool series (a DWI converted by dcm2niix, an ASL NIfTI)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from radclass.features.diffusion import WEIGHTED_BELOW, diffusion_reading
from radclass.io.pixels import PixelReadError, nifti_frames
from radclass.models.bundle import BundleError, DiffusionTest

TEST = DiffusionTest(attenuated_below=0.6, free_water_below=0.8)


def _head(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(background, parenchyma, free water) masks of a 40^3 head: a ball of tissue with a fluid core."""
    z, y, x = np.ogrid[:40, :40, :40]
    r2 = (x - 19.5) ** 2 + (y - 19.5) ** 2 + (z - 19.5) ** 2
    head, fluid = r2 <= 15**2, r2 <= 6**2
    return ~head, head & ~fluid, fluid


def _frames(*levels: tuple[float, float], noise: float = 0.01, seed: int = 0) -> np.ndarray:
    """One frame per (parenchyma, free water) level pair, background 0.02, Gaussian noise."""
    rng = np.random.default_rng(seed)
    background, tissue, fluid = _head()
    out = []
    for t, f in levels:
        frame = np.where(tissue, t, np.where(fluid, f, 0.02)) + rng.normal(0, noise, tissue.shape)
        out.append(np.abs(frame))
    return np.stack(out).astype(np.float32)


def test_diffusion_weighting_is_called() -> None:
    # b = 0: free water brightest; b = 1000: parenchyma keeps exp(-0.8), free water exp(-3)
    reading = diffusion_reading(_frames((1.0, 2.5), (0.45, 0.12), (0.44, 0.13)))
    assert reading.reference == 0 and reading.weighted == 2
    assert reading.attenuation < WEIGHTED_BELOW and reading.free_water is not None and reading.free_water < 0.5
    assert TEST.call(reading)


def test_non_finite_voxels_are_read_as_zero() -> None:
    frames = _frames((1.0, 2.5), (0.45, 0.12))
    frames[:, :2] = np.nan  # e.g. a float NIfTI's masked-out border
    assert TEST.call(diffusion_reading(frames))


def test_reference_is_the_brightest_frame_wherever_it_lies() -> None:
    reading = diffusion_reading(_frames((0.45, 0.12), (0.46, 0.11), (1.0, 2.5)))
    assert reading.reference == 2 and TEST.call(reading)


def test_echo_decay_and_an_asl_m0_frame_are_not_diffusion() -> None:
    # a second echo: parenchyma decays (T2 ~ 80 ms), free water barely (T2 ~ 2 s)
    echoes = diffusion_reading(_frames((1.0, 1.6), (0.4, 1.5)))
    assert echoes.weighted == 1 and echoes.free_water is not None and echoes.free_water > 1.5
    assert not TEST.call(echoes)
    # ASL: an M0 frame, then background-suppressed control/label frames in which free water keeps more
    asl = diffusion_reading(_frames((1.0, 2.0), (0.15, 0.5), (0.15, 0.5)))
    assert asl.weighted == 2 and not TEST.call(asl)


def test_bold_frames_are_not_weighted() -> None:
    rng = np.random.default_rng(1)
    frames = _frames(*[(1.0 + rng.normal(0, 0.01), 1.3) for _ in range(8)])
    reading = diffusion_reading(frames)
    assert reading.weighted == 0 and reading.free_water is None and reading.attenuation > 0.95
    assert not TEST.call(reading)


def test_refusals_are_sentences() -> None:
    with pytest.raises(ValueError, match="two frames"):
        diffusion_reading(_frames((1.0, 2.0)))
    with pytest.raises(ValueError, match="constant"):
        diffusion_reading(np.ones((3, 10, 10, 10), np.float32))
    signed = _frames((1.0, 2.0), (0.4, 0.1)) - 0.5  # phase-like: half the head negative
    with pytest.raises(ValueError, match="signed"):
        diffusion_reading(signed)
    with pytest.raises(BundleError, match="free_water_below"):
        DiffusionTest(attenuated_below=0.6, free_water_below=1.5)
    with pytest.raises(BundleError, match="attenuated_below"):
        DiffusionTest(attenuated_below=0.9, free_water_below=0.8)


def test_nifti_frames_keep_the_first_and_refuse_one_volume(tmp_path: Path) -> None:
    import nibabel as nib

    data = np.arange(4 * 4 * 3 * 100, dtype=np.int16).reshape(4, 4, 3, 100)
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_slope_inter(2.0, 1.0)
    nib.save(img, tmp_path / "t.nii.gz")
    frames = nifti_frames(tmp_path / "t.nii.gz", max_volumes=10)
    assert frames.shape == (10, 4, 4, 3) and frames.dtype == np.float32
    assert frames[0, 1, 2, 0] == 2.0 * data[1, 2, 0, 0] + 1.0 and frames[-1, 0, 0, 0] == 2.0 * data[0, 0, 0, 99] + 1
    nib.save(nib.Nifti1Image(data[..., 0], np.eye(4)), tmp_path / "one.nii.gz")
    with pytest.raises(PixelReadError, match="one volume"):
        nifti_frames(tmp_path / "one.nii.gz")


@pytest.mark.skipif(shutil.which("dcm2niix") is None, reason="dcm2niix (Debian package) is not installed")
def test_real_dwi_and_asl_of_the_pool(data_root: Path, tmp_path: Path) -> None:
    subprocess.run(
        [
            "dcm2niix",
            "-b",
            "n",
            "-z",
            "n",
            "-f",
            "dwi",
            "-o",
            str(tmp_path),
            str(data_root / "mri/dicom/dcm_qa_toshiba"),
        ],
        capture_output=True,
        check=True,
    )
    converted = [p for p in sorted(tmp_path.glob("*.nii")) if len(nifti_frames_shape(p)) == 4]
    assert converted, "dcm2niix made no time series of the Toshiba DWI folder"
    for path in converted:
        reading = diffusion_reading(nifti_frames(path))
        assert TEST.call(reading), (path.name, reading)
    asl = diffusion_reading(nifti_frames(data_root / "mri/nifti/niivue/pcasl.nii.gz"))
    assert asl.volumes == 10 and not TEST.call(asl)


def nifti_frames_shape(path: Path) -> tuple[int, ...]:
    import nibabel as nib

    return tuple(nib.load(path).shape)
