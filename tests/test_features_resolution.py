"""The detail a volume's pixels hold (radclass.features.resolution): natively sampled and band-limited hand-built
volumes, real pool volumes, and annotate refusing a pool DWI frame interpolated to a structural scan's voxel
size (which the grey/white test had called FLAIR)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import gaussian_filter, zoom

from radclass.features.resolution import MIN_SAMPLES, effective_spacing
from radclass.io.pixels import canonical_nifti
from radclass.models.bundle import coarse_voxel_refusal
from radclass.taxonomy import UNKNOWN


def _texture(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A natively sampled 'anatomy': smooth structure plus white noise up to the Nyquist frequency."""
    rng = np.random.default_rng(seed)
    return (100 + 40 * gaussian_filter(rng.normal(size=shape), 2) + rng.normal(0, 2, shape)).astype(np.float32)


def _fourier_upsample(volume: np.ndarray, factor: int, axes: tuple[int, ...] = (0, 1)) -> np.ndarray:
    """Zero-filled k-space along ``axes`` (what a scanner's interpolation does), magnitude image."""
    out = volume.astype(np.complex128)
    for axis in axes:
        n = out.shape[axis]
        spectrum = np.fft.fftshift(np.fft.fft(out, axis=axis), axes=axis)
        pad = [(0, 0)] * out.ndim
        pad[axis] = (n * (factor - 1) // 2, n * (factor - 1) - n * (factor - 1) // 2)
        out = np.fft.ifft(np.fft.ifftshift(np.pad(spectrum, pad), axes=axis), axis=axis) * factor
    return np.abs(out).astype(np.float32)


def test_a_natively_sampled_volume_keeps_its_voxel_size() -> None:
    assert effective_spacing(_texture((64, 64, 40)), (0.9, 0.9, 3.0)) == pytest.approx((0.9, 0.9, 3.0))


@pytest.mark.parametrize("factor", [2, 3])
def test_an_interpolated_volume_reads_as_its_acquisition(factor: int) -> None:
    acquired = _texture((48, 48, 36), seed=factor)
    stored = _fourier_upsample(acquired, factor)
    detail = effective_spacing(stored, (2.4 / factor, 2.4 / factor, 3.0))
    assert detail[0] == pytest.approx(2.4, rel=0.15) and detail[1] == pytest.approx(2.4, rel=0.15)
    assert detail[2] == pytest.approx(3.0)  # the slice axis was not interpolated
    cubic = zoom(acquired, (factor, factor, 1), order=3)  # a converter's spline interpolation
    assert min(effective_spacing(cubic, (2.4 / factor, 2.4 / factor, 3.0))) > 1.2


def test_short_and_constant_axes_keep_their_size_and_bad_input_is_refused() -> None:
    assert effective_spacing(np.ones((64, 64, 64), np.float32), (1.0, 1.0, 1.0)) == (1.0, 1.0, 1.0)
    flat = _fourier_upsample(_texture((40, 40, MIN_SAMPLES - 1)), 2)
    assert effective_spacing(flat, (1.0, 1.0, 4.0))[2] == 4.0
    with pytest.raises(ValueError, match="3D volume"):
        effective_spacing(np.zeros((8, 8)), (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="three positive voxel sizes"):
        effective_spacing(np.zeros((8, 8, 8)), (1.0, 0.0, 1.0))


def test_the_refusal_names_the_detail_and_the_stored_size() -> None:
    assert coarse_voxel_refusal((1.0, 1.0, 3.0), 1.2, (1.0, 1.1, 3.0)) is None
    why = coarse_voxel_refusal((1.0, 1.0, 3.0), 1.2, (2.3, 2.4, 3.0))
    assert why is not None and "detail of 2.30 mm voxels" in why and "interpolated to 1 mm" in why


@pytest.mark.parametrize(
    "relpath",
    [
        "mri/nifti/niivue/chris_t1.nii.gz",
        "mri/nifti/open_ms_data/longitudinal/raw/patient01/study1_FLAIR.nii.gz",
        "mri/nifti/open_ms_data/longitudinal/raw/patient01/study1_T2W.nii.gz",
        "mri/nifti/brats_case/t1c.nii.gz",
    ],
)
def test_pool_structural_volumes_hold_structural_detail(data_root: Path, relpath: str) -> None:
    image, _ = canonical_nifti(data_root / relpath)
    stored = tuple(float(d) for d in image.header.get_zooms()[:3])
    detail = effective_spacing(np.asarray(image.dataobj, dtype=np.float32), stored)
    assert min(detail) == pytest.approx(min(stored), rel=1e-3) and min(detail) <= 1.2


@pytest.mark.skipif(shutil.which("dcm2niix") is None, reason="dcm2niix (Debian package) is not installed")
def test_annotate_refuses_a_dwi_interpolated_to_structural_voxels(data_root: Path, tmp_path: Path, run_cli) -> None:
    converted = tmp_path / "converted"
    converted.mkdir()
    dicom = data_root / "mri/dicom/dcm_qa_xa30/10_DWI_dir80_PA"  # Siemens XA30 DWI, 3 mm, b = 0 / 1000 / 1000
    subprocess.run(
        ["dcm2niix", "-b", "n", "-z", "y", "-f", "dwi", "-o", converted, dicom], check=True, capture_output=True
    )
    image = nib.load(converted / "dwi.nii.gz")
    frame = np.asarray(image.dataobj, dtype=np.float64)[..., 2]  # a b = 1000 frame
    affine = image.affine.copy()
    affine[:3, :2] /= 3
    archive = tmp_path / "archive"
    archive.mkdir()
    # as a converter writes it, 1 mm in-plane and no header: its dark fluid read like a FLAIR's before
    stored = np.clip(zoom(frame, (3, 3, 1), order=3), 0, None).astype(np.int16)
    nib.save(nib.Nifti1Image(stored, affine), archive / "b1000.nii.gz")
    out = tmp_path / "x.csv"
    result = run_cli("annotate", archive, "--out", out)
    assert result.exit_code == 0, result.output
    (row,) = pd.read_csv(out, keep_default_na=False).to_dict("records")
    assert row["sequence"] == UNKNOWN, row["reason"]
    assert "its pixels hold the detail of" in row["reason"] and "interpolated to 1 mm" in row["reason"]
