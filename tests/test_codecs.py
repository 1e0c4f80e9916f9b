"""Pixel decoders of the default install (``radclass.io.codecs``): GDCM and the MIT pylibjpeg plugins decode every
compressed file of pydicom's test data and of the pool, JPEG / JPEG-LS / RLE to dcmtk's pixels bit for bit, and
the GPL libjpeg is never needed.

The references are dcmtk's own decompressors (``dcmdjpeg``, ``dcmdjpls``, ``dcmdrle``, Debian ``dcmtk``); JPEG 2000,
which dcmtk does not decode, is checked against the second permissive decoder (OpenJPEG) instead.
"""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pytest
from pydicom import uid
from pydicom.pixels import pixel_array

from radclass.io import codecs
from test_listen_helpers import need_binary

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

#: dcmtk's decompressor for each syntax it decodes.
_DCMTK = {
    uid.JPEGBaseline8Bit: "dcmdjpeg", uid.JPEGExtended12Bit: "dcmdjpeg", uid.JPEGLossless: "dcmdjpeg",
    uid.JPEGLosslessSV1: "dcmdjpeg", uid.JPEGLSLossless: "dcmdjpls", uid.JPEGLSNearLossless: "dcmdjpls",
    uid.RLELossless: "dcmdrle",
}
#: pydicom test files that no decoder reads (an encapsulation test case, not an image).
_BROKEN = {"JPEG2000-embedded-sequence-delimiter.dcm"}


def _compressed(paths) -> list[tuple[Path, uid.UID]]:
    out = []
    for path in map(Path, paths):
        try:
            ds = pydicom.dcmread(path)
            syntax = ds.file_meta.TransferSyntaxUID
        except Exception:  # not DICOM, or no file meta
            continue
        if syntax.is_compressed and "PixelData" in ds and path.name not in _BROKEN:
            out.append((path, syntax))
    return out


@pytest.fixture(scope="module")
def bundled() -> list[tuple[Path, uid.UID]]:
    codecs.register()
    # the files pydicom ships (get_testdata_files would try to download more)
    files = _compressed(sorted((Path(pydicom.data.__file__).parent / "test_files").rglob("*.dcm")))
    assert len(files) >= 38
    return files


def _decode(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path).pixel_array


def test_gdcm_decodes_every_jpeg_process_first():
    for syntax in (uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit, uid.JPEGLossless, uid.JPEGLosslessSV1):
        assert "gdcm" in codecs.plugins(syntax), syntax.name
    assert codecs.PLUGIN in codecs.plugins(uid.JPEGExtended12Bit)
    from pydicom.pixels import get_decoder

    order = list(get_decoder(uid.JPEGExtended12Bit)._validate_plugins(""))  # the order pydicom tries them in
    assert order[0] == codecs.PLUGIN and "gdcm" in order
    assert codecs.plugins(uid.ExplicitVRLittleEndian) == ()


def test_every_bundled_compressed_file_decodes(bundled):
    syntaxes = set()
    for path, syntax in bundled:
        arr = _decode(path)
        assert arr.size and arr.std() > 0, path.name
        syntaxes.add(syntax)
    # baseline, extended, lossless SV1, JPEG-LS x2, JPEG 2000 x2, RLE
    assert len(syntaxes) >= 8, sorted(s.name for s in syntaxes)


def test_jpeg_jpegls_rle_match_dcmtk_bit_for_bit(bundled, tmp_path):
    checked = 0
    for path, syntax in bundled:
        if syntax not in _DCMTK:
            continue
        out = tmp_path / f"{path.stem}.dcm"
        run = subprocess.run([need_binary(_DCMTK[syntax]), str(path), str(out)], capture_output=True, text=True)
        if run.returncode != 0:  # dcmtk refuses a few of pydicom's deliberately odd files
            continue
        np.testing.assert_array_equal(_decode(path), _decode(out), err_msg=f"{path.name} ({syntax.name})")
        checked += 1
    assert checked >= 25  # pydicom 3.0.2 test data: 30 of 31 (dcmtk cannot parse SC_rgb_jpeg.dcm)


def test_jpeg2000_matches_openjpeg(bundled):
    j2k = [path for path, syntax in bundled if syntax in uid.JPEG2000TransferSyntaxes]
    assert len(j2k) >= 6
    for path in j2k:
        np.testing.assert_array_equal(_decode(path), pixel_array(path, decoding_plugin="pylibjpeg"), path.name)


def test_pool_compressed_series_decode_identically(data_root):
    """Every compressed file of the pool decodes; the one image stored in five lossless syntaxes (JPEG 2000
    twice, JPEG lossless, JPEG-LS, RLE) gives the same pixels in each."""
    folder = data_root / "mri" / "dicom" / "dicom2nifti"
    reference = _decode(next((folder / "generic_compressed_001").iterdir()))
    files = _compressed(p for p in (data_root / "mri" / "dicom").rglob("*") if p.is_file())
    names = {p.parent.name for p, _ in files}
    assert {"generic_compressed_j2k_001", "generic_compressed_jpeg_001", "generic_compressed_jpegls_001",
            "generic_compressed_rle_001"} <= names
    for path, syntax in files:
        arr = _decode(path)
        assert arr.size, path
        if path.parent.name.startswith("generic_compressed_"):
            np.testing.assert_array_equal(arr, reference, err_msg=f"{path} ({syntax.name})")
