"""Pixel access (``radclass.io.pixels.load_slices``): every transfer syntax decodes to the values of its
uncompressed reference, rescale and MONOCHROME1 are applied, multi-frame/enhanced/mosaic/4D series give the
right frames, NIfTI volumes are cut along their acquisition plane, PNG/JPEG are read as grey.

References are pydicom's bundled test files (always available) and, where the pool is present, real series
(enhanced MR, mosaics, one image stored in five transfer syntaxes).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from radclass.io.pixels import PixelReadError, evenly_spaced, load_slices
from radclass.io.series import Series
from radclass.pipeline.scan import scan

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def series_of(path: Path | str) -> Series:
    """The single series a file or folder scans into."""
    result = scan([Path(path)], workers=1)
    assert len(result.series) == 1, (path, [s.reason for s in result.skipped])
    return result.series[0]


def slices_of(name_or_path: str | Path, k: int = 5, **kw) -> list[np.ndarray]:
    path = name_or_path if os.path.isabs(str(name_or_path)) else get_testdata_file(str(name_or_path))
    out = load_slices(series_of(path), k, **kw)
    for s in out:
        assert s.ndim == 2 and s.dtype == np.float32 and np.isfinite(s).all()
    return out


def raw(name: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(get_testdata_file(name)).pixel_array


def grey(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


# --- transfer syntaxes against an uncompressed reference -------------------------------------------


@pytest.fixture(scope="module")
def mr_small() -> np.ndarray:
    ref = slices_of("MR_small.dcm")
    assert len(ref) == 1 and ref[0].shape == (64, 64)
    np.testing.assert_array_equal(ref[0], raw("MR_small.dcm").astype(np.float32))  # no rescale in this file
    return ref[0]


@pytest.mark.parametrize("name", [
    "MR_small_RLE.dcm",               # RLE lossless
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS lossless
    "MR_small_jp2klossless.dcm",      # JPEG 2000 lossless
    "MR_small_implicit.dcm",          # implicit VR little endian
    "MR_small_bigendian.dcm",         # explicit VR big endian
    "MR_small_padded.dcm",
])
def test_lossless_syntaxes_match_uncompressed_mr(name: str, mr_small: np.ndarray):
    (out,) = slices_of(name)
    np.testing.assert_array_equal(out, mr_small)


@pytest.fixture(scope="module")
def rgb_reference() -> np.ndarray:
    """SC_rgb (100x100 colour bars) from its RLE-lossless copy, as luminance."""
    (ref,) = slices_of("SC_rgb_rle.dcm")
    np.testing.assert_allclose(ref, grey(raw("SC_rgb_rle.dcm")), atol=1e-3)  # RGB -> grey luminance
    return ref


@pytest.mark.parametrize(("name", "mean_tol", "max_tol"), [
    ("SC_rgb_jpeg_gdcm.dcm", 0.0, 0.0),        # JPEG lossless, process 14 SV1
    ("SC_rgb_gdcm_KY.dcm", 0.0, 0.0),          # JPEG 2000 (reversible)
    ("SC_rgb_jpeg_dcmtk.dcm", 1.0, 4.0),       # JPEG baseline, YBR_FULL
    ("SC_rgb_dcmtk_+eb+cr.dcm", 1.0, 4.0),     # JPEG baseline, RGB
    ("SC_rgb_jpeg_lossy_gdcm.dcm", 1.0, 10.0),  # JPEG baseline (gdcm)
    ("SC_rgb_jls_lossy_line.dcm", 1.0, 3.0),   # JPEG-LS near-lossless
])
def test_colour_syntaxes_match_lossless_reference(name, mean_tol, max_tol, rgb_reference):
    (out,) = slices_of(name)
    diff = np.abs(out - rgb_reference)
    assert diff.mean() <= mean_tol and diff.max() <= max_tol, (name, diff.mean(), diff.max())


def test_jpeg_baseline_matches_its_dcmtk_decompression():
    (jpeg,) = slices_of("SC_rgb_jpeg.dcm")       # JPEG baseline
    (plain,) = slices_of("SC_rgb_jpeg_dcmd.dcm")  # the same file decompressed by dcmtk
    assert np.abs(jpeg - plain).max() <= 2.0


@pytest.mark.parametrize("name", ["JPGExtended.dcm", "JPEG-lossy.dcm", "JPEG2000.dcm", "693_J2KI.dcm",
                                  "JPEGLSNearLossless_16.dcm", "examples_jpeg2k.dcm"])
def test_other_compressed_files_decode(name: str):
    (out,) = slices_of(name)
    assert out.std() > 0


def test_rle_multi_frame_gives_each_frame(rgb_reference):
    frames = slices_of("SC_rgb_rle_2frame.dcm")
    assert len(frames) == 2
    np.testing.assert_array_equal(frames[0], rgb_reference)  # frame 1: the colour bars
    np.testing.assert_allclose(frames[1], 255 - rgb_reference, atol=1e-3)  # frame 2: their inverse


def test_undecodable_pixels_raise_pixel_read_error(tmp_path: Path):
    """A JPEG 2000 frame whose codestream is noise after its first marker: a readable error, not a crash."""
    import random

    from pydicom.encaps import encapsulate, generate_frames

    ds = pydicom.dcmread(get_testdata_file("MR_small_jp2klossless.dcm"))
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    rng = random.Random(1)
    ds.PixelData = encapsulate([frame[:2] + bytes(rng.randrange(256) for _ in range(len(frame) - 2))])
    ds.save_as(tmp_path / "noise.dcm")
    with pytest.raises(PixelReadError, match="could not be decoded"):
        slices_of(tmp_path / "noise.dcm")


# --- modality LUT and photometric interpretation -----------------------------------------------------


def test_ct_rescale_gives_hounsfield_units():
    (out,) = slices_of("CT_small.dcm")
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    expected = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_allclose(out, expected)
    assert out.min() < -500  # air/outside in HU, not stored values


def _modified_mr(tmp_path: Path, **attrs) -> Path:
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    for k, v in attrs.items():
        setattr(ds, k, v)
    out = tmp_path / "modified.dcm"
    ds.save_as(out)
    return out


def test_rescale_slope_and_intercept(tmp_path: Path, mr_small: np.ndarray):
    (out,) = slices_of(_modified_mr(tmp_path, RescaleSlope="2.5", RescaleIntercept="-100"))
    np.testing.assert_allclose(out, mr_small * 2.5 - 100)


def test_monochrome1_is_inverted(tmp_path: Path, mr_small: np.ndarray):
    (out,) = slices_of(_modified_mr(tmp_path, PhotometricInterpretation="MONOCHROME1"))
    total = out + mr_small  # inverted: bright <-> dark, same contrast
    np.testing.assert_allclose(total, total.flat[0])
    assert out.flat[np.argmax(mr_small)] == out.min()


# --- series of many files: K evenly spaced slices in spatial order ---------------------------------------


def _numbered_series(folder: Path, n: int) -> None:
    """``n`` axial slices; slice at position z holds the constant z; InstanceNumbers are shuffled."""
    folder.mkdir(parents=True)
    src = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    order = np.random.default_rng(0).permutation(n)
    for i in range(n):
        ds = src.copy()
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.2.1125.5.{i}"
        ds.InstanceNumber = int(order[i]) + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, float(i)]
        ds.PixelData = np.full((64, 64), i, dtype=np.uint16).tobytes()
        ds.save_as(folder / f"f{int(order[i]):02d}.dcm")


def test_k_evenly_spaced_slices_in_spatial_order(tmp_path: Path):
    _numbered_series(tmp_path / "s", 12)
    series = series_of(tmp_path / "s")
    for k in (1, 3, 5):
        out = load_slices(series, k)
        assert [float(s[0, 0]) for s in out] == [float(i) for i in evenly_spaced(12, k)]
    assert len(load_slices(series, 50)) == 12


def test_evenly_spaced():
    assert evenly_spaced(3, 5) == [0, 1, 2]
    for n, k in ((10, 3), (100, 7), (36, 5)):
        idx = evenly_spaced(n, k)
        assert len(idx) == k == len(set(idx))
        assert idx == sorted(idx) and 0 < idx[0] and idx[-1] < n - 1


def test_series_without_pixels_raises(tmp_path: Path):
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    del ds.PixelData
    ds.save_as(tmp_path / "header_only.dcm")
    series = series_of(tmp_path / "header_only.dcm")
    assert "no_pixels" in series.flags
    with pytest.raises(PixelReadError):
        load_slices(series, 3)


# --- real series from the pool: enhanced MR, mosaics, one image in five transfer syntaxes -----------


def _pool_series(pool_scan, data_root: Path, relfolder: str) -> list[Series]:
    folder = str(data_root / relfolder) + os.sep
    found = [s for s in pool_scan.series if all(f.startswith(folder) for f in s.files)]
    assert found, relfolder
    return found


def test_compressed_copies_of_one_image_decode_identically(pool_scan, data_root):
    names = ["generic_compressed_001", "generic_compressed_j2k_001", "generic_compressed_jpeg_001",
             "generic_compressed_jpegls_001", "generic_compressed_rle_001"]
    arrays, syntaxes = [], set()
    for name in names:
        (series,) = _pool_series(pool_scan, data_root, f"mri/dicom/dicom2nifti/{name}")
        syntaxes.add(series.header["transfer_syntax"])
        (out,) = load_slices(series, 5)
        arrays.append(out)
    assert len(syntaxes) == 4  # J2K (twice), JPEG lossless, JPEG-LS, RLE
    for a in arrays[1:]:
        np.testing.assert_array_equal(a, arrays[0])


def test_enhanced_mr_frames_with_per_frame_rescale(pool_scan, data_root):
    (series,) = _pool_series(pool_scan, data_root, "mri/dicom/dcm_qa_xa30/9_gre_field_mapping")
    (inst,) = series.instances
    ds = pydicom.dcmread(inst.path)
    assert ds.NumberOfFrames > 1 and "PerFrameFunctionalGroupsSequence" in ds
    out = load_slices(series, 5)
    frames = ds.pixel_array
    for got, idx in zip(out, evenly_spaced(frames.shape[0], 5), strict=True):
        pvt = ds.PerFrameFunctionalGroupsSequence[idx].PixelValueTransformationSequence[0]
        assert float(pvt.RescaleSlope) != 1.0  # a phase map stored with slope 2, intercept -4096
        np.testing.assert_allclose(got, frames[idx] * float(pvt.RescaleSlope) + float(pvt.RescaleIntercept))


def test_enhanced_colour_mr_is_read_as_grey(pool_scan, data_root):
    (series,) = _pool_series(pool_scan, data_root, "mri/dicom/dcm_qa_xa30/14_DWI_dir80_PA")
    out = load_slices(series, 4)
    assert len(out) == 4 and out[0].shape == (72, 72)


def test_mosaic_is_split_into_its_tiles(pool_scan, data_root):
    (series,) = _pool_series(pool_scan, data_root, "mri/dicom/dcm_qa/axasc35")
    assert series.n_frames == 35
    mosaic = pydicom.dcmread(series.files[0]).pixel_array  # 384 x 384 = 6 x 6 tiles of 64 x 64
    out = load_slices(series, 5)
    for got, idx in zip(out, evenly_spaced(35, 5), strict=True):
        r, c = divmod(idx, 6)
        np.testing.assert_array_equal(got, mosaic[r * 64:(r + 1) * 64, c * 64:(c + 1) * 64])


def test_compressed_mosaic(pool_scan, data_root):
    (series,) = _pool_series(pool_scan, data_root, "mri/dicom/dcm_qa/AxInt36mb")  # JPEG 2000 mosaic
    out = load_slices(series, 5)
    assert len(out) == 5 and out[0].shape == (86, 86)
    assert all(s.max() > 0 for s in out)


def test_classic_series_from_the_pool_keeps_k(pool_scan, data_root):
    (series,) = _pool_series(pool_scan, data_root, "liver/totalseg/example_ct_dicom")
    assert len(series.files) == 20
    assert len(load_slices(series, 3)) == 3
    assert len(load_slices(series, 50)) == 20


def test_nifti_4d_picks_one_volume(pool_scan, data_root):
    series = next(s for s in pool_scan.series if s.path.endswith("niivue/pcasl.nii.gz"))
    first = load_slices(series, 3)
    third = load_slices(series, 3, volume=3)
    assert len(first) == len(third) == 3
    assert first[0].shape == third[0].shape == (68, 52)  # axial in-plane matrix
    assert not np.array_equal(first[1], third[1])
    last = load_slices(series, 3, volume=9)
    np.testing.assert_array_equal(load_slices(series, 3, volume=99)[1], last[1])  # clamped to the last


def test_a_2d_and_an_rgb_nifti_are_read(data_root, tmp_path: Path):
    """A NIfTI holding one 2D slice (nibabel cannot reorder its axes) and an RGB NIfTI (structured voxels) are
    read as grey slices instead of failing: annotate lists them with a label or a reason, not an error."""
    import nibabel as nib

    from radclass.io.pixels import canonical_nifti, nifti_axial_slices
    from radclass.io.volumes import nifti_series
    from radclass.pipeline.annotate import annotate_paths

    img = nib.load(data_root / "mri/nifti/open_ms_data/longitudinal/raw/patient01/study1_T1W.nii.gz")
    plane = np.asarray(img.dataobj, dtype=np.float32)[:, :, 20]
    nib.save(nib.Nifti1Image(plane, img.affine), tmp_path / "slice.nii.gz")
    red = (plane / plane.max() * 255).astype(np.uint8)[..., None]  # one slice, so that the axes are reordered
    rgb = np.zeros(red.shape, dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    rgb["R"], rgb["G"], rgb["B"] = red, red // 2, 0
    nib.save(nib.Nifti1Image(rgb, img.affine), tmp_path / "rgb.nii.gz")
    nib.save(nib.Nifti1Image((red + red.astype(np.float32) // 2) / 3, img.affine), tmp_path / "grey.nii")
    (one,) = load_slices(nifti_series(tmp_path / "slice.nii.gz", None), 3)
    assert one.shape == plane.shape[::-1] and one.max() == plane.max()
    np.testing.assert_allclose(canonical_nifti(tmp_path / "rgb.nii.gz")[1], canonical_nifti(tmp_path / "grey.nii")[1])
    assert nifti_axial_slices(tmp_path / "slice.nii.gz").shape == (1,) + plane.shape[::-1]
    table = annotate_paths([tmp_path], progress=False)
    assert len(table) == 3 and set(table["status"]) <= {"ok", "unknown"}, table[["path", "status", "reason"]]


def test_png_from_the_pool(data_root):
    (out,) = slices_of(data_root / "ct-head" / "images" / "000.png")
    assert out.ndim == 2 and out.max() > 0


# --- NIfTI geometry and 2D images (synthetic) ----------------------------------------------------------


def test_nifti_is_cut_along_its_acquisition_plane(tmp_path: Path):
    """Stored with the thick (4 mm) axis last but mapped to world x: sagittal slices, each one plane."""
    import nibabel as nib

    data = np.zeros((10, 12, 6), np.int16)  # storage (i, j, k); k -> world x, 4 mm
    for k in range(6):
        data[:, :, k] = k + 1
    affine = np.array([[0, 0, 4, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]], float)
    nib.save(nib.Nifti1Image(data, affine), str(tmp_path / "sag.nii.gz"))
    series = series_of(tmp_path / "sag.nii.gz")
    assert series.header["orientation"] == "SAG"
    out = load_slices(series, 3)
    assert [float(np.unique(s)[0]) for s in out] == [float(i + 1) for i in evenly_spaced(6, 3)]
    assert all(np.unique(s).size == 1 for s in out)  # a whole sagittal plane each
    assert out[0].shape == (12, 10)  # rows = superior-inferior (j), columns = anterior-posterior (i)


def test_png_and_jpeg_are_read_as_grey(tmp_path: Path):
    from PIL import Image

    g = (np.arange(40 * 30) % 251).astype(np.uint8).reshape(30, 40)
    Image.fromarray(g).save(tmp_path / "grey.png")
    (out,) = slices_of(tmp_path / "grey.png")
    np.testing.assert_array_equal(out, g.astype(np.float32))
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(tmp_path / "red.png")
    (out,) = slices_of(tmp_path / "red.png")
    assert np.allclose(out, 200 * 0.299, atol=1.0)
    Image.fromarray(g).save(tmp_path / "grey.jpg", quality=95)
    (out,) = slices_of(tmp_path / "grey.jpg")
    assert out.shape == (30, 40) and np.abs(out - g).mean() < 3


# --- One slice of one file (radclass.io.pixels.read_file_slice: the diagnostic models' reader) ----------


def test_file_slice_of_ct_dicom_is_in_hounsfield_units():
    from radclass.io.pixels import read_file_slice

    image = read_file_slice(get_testdata_file("CT_small.dcm"))
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    expected = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert (image.format, image.modality, image.full_scale) == ("dicom", "CT", None)
    np.testing.assert_allclose(image.pixels, expected)


def test_file_slice_of_enhanced_mr_frame_by_index(data_root):
    from radclass.io.pixels import read_file_slice

    (path,) = sorted((data_root / "mri/dicom/dcm_qa_xa30/9_gre_field_mapping").iterdir())
    ds = pydicom.dcmread(path)
    n = int(ds.NumberOfFrames)
    for index in (None, 3):
        frame = n // 2 if index is None else index
        pvt = ds.PerFrameFunctionalGroupsSequence[frame].PixelValueTransformationSequence[0]
        got = read_file_slice(path, index=index).pixels
        np.testing.assert_allclose(got, ds.pixel_array[frame] * float(pvt.RescaleSlope) + float(pvt.RescaleIntercept))
    with pytest.raises(IndexError, match=f"outside this image \\({n} slices\\)"):
        read_file_slice(path, index=n)


def test_file_slice_of_real_nifti_is_axial_radiological(data_root):
    import nibabel as nib

    from radclass.io.pixels import nifti_axial_slices, read_file_slice

    path = data_root / "liver/totalseg/example_ct_sm.nii.gz"
    data = np.asarray(nib.as_closest_canonical(nib.load(path)).dataobj, np.float32)
    volume = nifti_axial_slices(path)
    assert volume.shape == (data.shape[2], data.shape[1], data.shape[0])
    middle = read_file_slice(path)
    assert (middle.format, middle.modality) == ("nifti", "")
    # anterior (high y) on top, the patient's right (high x: RAS+) on the image's left
    np.testing.assert_array_equal(middle.pixels, data[:, :, data.shape[2] // 2].T[::-1, ::-1])
    np.testing.assert_array_equal(read_file_slice(path, index=0).pixels, volume[0])
    assert middle.pixels.min() < -500  # CT in HU


def test_file_slice_of_png_keeps_16_bits(data_root, tmp_path: Path):
    from PIL import Image

    from radclass.io.pixels import read_file_slice

    (png,) = sorted((data_root / "mri/png").glob("*/*.png"))[:1]
    image = read_file_slice(png)
    with Image.open(png) as im:
        assert im.mode == "I;16"
        np.testing.assert_array_equal(image.pixels, np.asarray(im, np.float32))
    assert (image.format, image.full_scale) == ("image", 65535.0) and image.pixels.max() > 255
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(PixelReadError, match="image unreadable"):
        read_file_slice(broken)
    bad_dicom = tmp_path / "bad.dcm"
    bad_dicom.write_bytes(b"\0" * 200)
    with pytest.raises(PixelReadError, match="DICOM pixels unreadable"):
        read_file_slice(bad_dicom)


def test_native_frames_are_pydicoms_bit_for_bit(data_root: Path, tmp_path: Path):
    """The direct read of uncompressed single-frame data gives pydicom's ``pixel_array`` (values and dtype) on
    every such DICOM file of the pool, and declines where pydicom's own handling decides."""
    from radclass.io.pixels import _native_frame, _pixel_dataset

    result = scan([data_root / "mri" / "dicom", data_root / "liver"], workers=2)
    taken = 0
    for inst in (m for s in result.series for m in s.instances if m.has_pixels and not m.pixel_issue):
        ds, indices = _pixel_dataset(inst, 5)
        frame = _native_frame(ds) if indices is None else None
        if frame is None:
            continue
        reference = ds.pixel_array
        assert frame.dtype == reference.dtype and np.array_equal(frame, reference), inst.path
        taken += 1
    assert taken > 400
    # high bits above BitsStored, a short buffer, a compressed syntax: pydicom's path
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    assert _native_frame(ds) is not None  # as it is, it is read directly
    ds.BitsStored = 8
    assert _native_frame(ds) is None  # MR_small's values exceed 8 bits
    ds.BitsStored = 16
    ds.PixelData = ds.PixelData[:100]
    assert _native_frame(ds) is None
    jpeg = pydicom.dcmread(get_testdata_file("JPEG2000.dcm"))
    assert _native_frame(jpeg) is None


def test_a_nifti_whose_affine_gives_an_axis_no_direction_is_read_as_stored(tmp_path: Path):
    """dcm2niix writes a two-slice volume with a zero third column in its affine; nibabel cannot reorder it."""
    import nibabel as nib

    from radclass.io.pixels import canonical_nifti

    affine = np.array([[0, 0, 0, 1.35], [-2.7, 0, 0, 135.7], [0, 2.7, 0, -134.2], [0, 0, 0, 1]])
    data = np.arange(8 * 8 * 2 * 3, dtype=np.int16).reshape(8, 8, 2, 3)
    img = nib.Nifti1Image(data, None)
    img.set_sform(affine, code=1)  # a qform cannot hold it (nibabel cannot decompose it)
    nib.save(img, tmp_path / "two_slices.nii.gz")
    _, voxels = canonical_nifti(tmp_path / "two_slices.nii.gz")
    np.testing.assert_array_equal(voxels, data)
    (s,) = scan([tmp_path]).series
    assert len(load_slices(s, 2)) == 2  # sliced, not an unreadable series
