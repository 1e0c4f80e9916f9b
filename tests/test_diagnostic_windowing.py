"""CT windowing: Hounsfield conversion (DICOM RescaleSlope/Intercept), window presets (width/level), the
multi-window input, and the refusal to re-window already-windowed PNGs."""

from __future__ import annotations

import numpy as np
import pytest

from radclass.diagnostic.hounsfield import (
    MULTI_WINDOW, WINDOWS, Window, apply_window, dicom_hounsfield, multi_window, to_hounsfield,
)
from radclass.diagnostic.images import read_image
from radclass.diagnostic.preprocess import Preprocess, prepare, to_channels


def test_presets_are_width_level_as_in_the_issue():
    assert (WINDOWS["brain"].width, WINDOWS["brain"].level) == (80, 35)
    assert (WINDOWS["blood"].width, WINDOWS["blood"].level) == (220, 95)
    assert (WINDOWS["stroke"].width, WINDOWS["stroke"].level) == (27, 33)
    assert MULTI_WINDOW == ("brain", "blood", "stroke")


def test_window_maps_level_to_half_and_edges_to_0_and_1():
    w = Window(width=80, level=35)
    hu = np.array([-1000, w.low, 35, w.high, 3000], np.float32)
    np.testing.assert_allclose(apply_window(hu, w), [0, 0, 0.5, 1, 1], atol=1e-6)
    np.testing.assert_allclose(apply_window(np.array([15.0]), "brain"), [0.25])
    with pytest.raises(ValueError):
        apply_window(hu, Window(0, 10))


def test_multi_window_stacks_brain_blood_stroke():
    hu = np.linspace(-100, 300, 64, dtype=np.float32).reshape(8, 8)
    stack = multi_window(hu)
    assert stack.shape == (3, 8, 8)
    for channel, name in zip(stack, MULTI_WINDOW):
        np.testing.assert_allclose(channel, apply_window(hu, name))


def test_to_hounsfield_uses_slope_and_intercept():
    np.testing.assert_allclose(to_hounsfield(np.array([0, 1000, 2048]), 1.0, -1024), [-1024, -24, 1024])
    np.testing.assert_allclose(to_hounsfield(np.array([10]), 0.5, -5), [0])


def _write_ct(path, stored: np.ndarray, slope: float, intercept: float, modality: str = "CT"):
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, meta.MediaStorageSOPInstanceUID, modality
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    ds.PixelData = stored.astype(np.uint16).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return path


def test_dicom_hounsfield_and_read_image(tmp_path):
    stored = np.array([[0, 1024], [1064, 2048]], np.uint16)
    path = _write_ct(tmp_path / "slice.dcm", stored, 1.0, -1024.0)
    hu, is_ct = dicom_hounsfield(path)
    assert is_ct
    np.testing.assert_allclose(hu, [[-1024, 0], [40, 1024]])
    image = read_image(path)
    assert image.kind == "hu"
    mr = read_image(_write_ct(tmp_path / "mr.dcm", stored, 1.0, 0.0, modality="MR"))
    assert mr.kind == "intensity" and 0 <= mr.pixels.min() and mr.pixels.max() <= 1


def test_multiwindow_input_from_dicom_and_refused_for_png(tmp_path):
    from PIL import Image

    stored = (np.arange(64 * 64).reshape(64, 64) % 200 + 1000).astype(np.uint16)
    dcm = _write_ct(tmp_path / "ct.dcm", stored, 1.0, -1024.0)
    spec = Preprocess(input_size=56, load_size=64, channels="multiwindow")
    x = prepare(dcm, spec)
    assert x.shape == (3, 56, 56)
    # the three channels are different windows of the same HU values
    assert not np.allclose(x[0] * spec.std[0] + spec.mean[0], x[1] * spec.std[1] + spec.mean[1])
    png = tmp_path / "slice.png"
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) % 256).astype(np.uint8)).save(png)
    assert read_image(png).kind == "display"
    with pytest.raises(ValueError, match="cannot be re-windowed"):
        prepare(png, spec)
    grey = to_channels(np.full((1, 4, 4), 0.25, np.float32), "display", Preprocess(input_size=4, load_size=4))
    np.testing.assert_allclose(grey, 0.25)
