"""Every slice of every volume (``radclass.io.pixels.load_slice`` / ``series_extent``, the review viewer's
reader): DICOM single-frame, repeated positions as 4D, multi-frame, mosaics; NIfTI 3D/4D; PNG. The slices agree
with ``load_slices`` (the model's reader) wherever both address the same slice."""

from __future__ import annotations

import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from radclass.config import data_root
from radclass.io.pixels import evenly_spaced, load_slice, load_slices, series_extent
from radclass.pipeline.scan import scan

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def series_of(path: Path):
    result = scan([Path(path)], workers=1)
    assert len(result.series) == 1, [s.reason for s in result.skipped]
    return result.series[0]


def pool(rel: str) -> Path:
    path = data_root() / rel
    if not path.exists():
        pytest.skip(f"shared data not found: {path}")
    return path


def test_repeated_positions_are_volumes(tmp_path: Path):
    """Single-frame instances at 4 positions x 3 repetitions: 4 slices x 3 volumes, in space and time order."""
    folder = tmp_path / "s"
    folder.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        template = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    n = 0
    for t in range(3):
        for z in (3, 0, 2, 1):  # files written out of spatial order
            ds = template.copy()
            ds.SOPInstanceUID = pydicom.uid.generate_uid()
            ds.InstanceNumber = n + 1
            ds.ImagePositionPatient = [0, 0, float(z)]
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.PixelData = np.full((64, 64), 10 * t + z, dtype=np.uint16).tobytes()
            ds.save_as(folder / f"i{n:02d}.dcm")
            n += 1
    series = series_of(folder)
    assert series_extent(series) == (4, 3)
    for t in range(3):
        assert [float(load_slice(series, z, volume=t)[0, 0]) for z in range(4)] == [10.0 * t + z for z in range(4)]
    with pytest.raises(IndexError):
        load_slice(series, 4)
    with pytest.raises(IndexError):
        load_slice(series, 0, volume=3)


def test_enhanced_multi_frame_frames_are_slices_with_their_rescale():
    """A real enhanced MR (phase map, per-frame slope 2 / intercept -4096): each frame is one slice."""
    path = pool("mri/dicom/dcm_qa_xa30/9_gre_field_mapping")
    series = series_of(path)
    (inst,) = series.instances
    ds = pydicom.dcmread(inst.path)
    frames = ds.pixel_array
    assert series_extent(series) == (frames.shape[0], 1)
    for i in (0, frames.shape[0] // 2, frames.shape[0] - 1):
        pvt = ds.PerFrameFunctionalGroupsSequence[i].PixelValueTransformationSequence[0]
        np.testing.assert_allclose(load_slice(series, i),
                                   frames[i] * float(pvt.RescaleSlope) + float(pvt.RescaleIntercept))


def test_mosaic_tiles_match_load_slices():
    series = series_of(pool("mri/dicom/dcm_qa/AxInt36mb"))
    assert series_extent(series) == (36, 1)
    expected = load_slices(series, 5)
    for got, i in zip(expected, evenly_spaced(36, 5), strict=True):
        np.testing.assert_array_equal(load_slice(series, i), got)


def test_classic_series_slices_match_load_slices():
    result = scan([pool("mri/dicom/dcm_qa_canon_61/3000_DTI_PA-ortho")], workers=1)
    for series in result.series:  # the pipeline splits it into b0 / b1500
        n_slices, n_volumes = series_extent(series)
        assert n_volumes == 1 and n_slices == len(series.instances)
        every = load_slices(series, n_slices)
        for i in range(n_slices):
            np.testing.assert_array_equal(load_slice(series, i), every[i])


def test_nifti_4d_every_volume(tmp_path: Path):
    """A synthetic 4D NIfTI whose voxels encode (x, y, z, t); slices along z (acquisition plane), radiological."""
    shape = (6, 5, 4, 3)
    x, y, z, t = np.meshgrid(*(np.arange(s) for s in shape), indexing="ij")
    data = (1000 * t + 100 * z + 10 * y + x).astype(np.int16)
    path = tmp_path / "v.nii.gz"
    nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 3.0, 1.0])), path)
    series = series_of(path)
    assert series_extent(series) == (4, 3)
    for vol in range(3):
        for k in range(4):
            np.testing.assert_array_equal(load_slice(series, k, volume=vol),
                                          np.rot90(data[:, :, k, vol]).astype(np.float32))
    with pytest.raises(IndexError):
        load_slice(series, 0, volume=3)


def test_pool_nifti_and_png_agree_with_load_slices():
    four_d = series_of(pool("mri/nifti/niivue/pcasl.nii.gz"))
    assert series_extent(four_d) == (20, 10)
    middle = load_slices(four_d, k=1, volume=7)[0]
    assert any(np.array_equal(middle, load_slice(four_d, i, volume=7)) for i in range(20))
    png = series_of(pool("mri/png/ixi_guys/IXI040-Guys-0724-PD_slice69.png"))
    assert series_extent(png) == (1, 1)
    np.testing.assert_array_equal(load_slice(png, 0), load_slices(png, k=1)[0])
