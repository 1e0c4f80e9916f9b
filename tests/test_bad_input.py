"""Bad input never crashes the scan or the pixel access and never loses a file: each file is in a series
(flagged when its pixels are unusable) or listed as skipped with a reason a person understands.

Covers zero-byte, truncated, bit-flipped, garbage-after-DICM, missing mandatory tags, inconsistent sizes in a
series, unreadable files/folders, symlink loops, broken links, and a seeded fuzz test (~150 mutants of real files).
"""

from __future__ import annotations

import builtins
import errno
import os
import random
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

import radclass.io.files as files_module
from radclass.io.pixels import PixelReadError, load_slices
from radclass.pipeline.scan import ScanResult, scan

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

RUNNING_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
ROOT_REASON = ("running as root: chmod 000 does not stop root from reading files or listing folders, so real "
               "permission errors cannot be produced here (the simulated test covers the reason given)")


def check_accounting(result: ScanResult) -> dict[str, str]:
    """Every walked entry in exactly one series or skipped row; returns path -> where ('series'/reason)."""
    where: dict[str, str] = {}
    for s in result.series:
        for f in s.files:
            assert f not in where, f"{f} listed twice"
            where[f] = "series"
    for s in result.skipped:
        assert s.path not in where, f"{s.path} listed twice"
        assert s.status in ("skipped", "error")
        assert len(s.reason) > 5 and "Traceback" not in s.reason, s
        where[s.path] = s.reason
    assert result.n_accounted == result.n_walked == len(where)
    assert int(result.to_frame()["n_files"].sum()) == result.n_walked
    return where


def check_pixels(result: ScanResult) -> None:
    """Pixel access on every series gives 2D float32 slices or a PixelReadError, nothing else."""
    for series in result.series:
        try:
            slices = load_slices(series, 3)
        except PixelReadError as err:
            assert str(err)
            continue
        assert slices, series.path
        for s in slices:
            assert s.ndim == 2 and s.dtype == np.float32, series.path


def mr_small(path: Path, **attrs) -> Path:
    """MR_small.dcm written to ``path`` with attributes changed (value None deletes the attribute)."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    for k, v in attrs.items():
        if v is None:
            if k in ds:
                delattr(ds, k)
        else:
            setattr(ds, k, v)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path)
    return path


# --- one kind of damage at a time -------------------------------------------------------------------------


def test_zero_byte_and_non_dicom_files(tmp_path: Path):
    (tmp_path / "empty.dcm").write_bytes(b"")
    (tmp_path / "notes.dcm").write_text("not an image")
    result = scan([tmp_path], workers=1)
    where = check_accounting(result)
    assert "empty file (0 bytes)" in where[str(tmp_path / "empty.dcm")]
    assert "not DICOM" in where[str(tmp_path / "notes.dcm")]


def test_truncated_header_is_skipped_with_reason(tmp_path: Path):
    data = Path(get_testdata_file("MR_small.dcm")).read_bytes()
    for cut in (140, 300, 700):
        (tmp_path / f"cut{cut}.dcm").write_bytes(data[:cut])
    result = scan([tmp_path], workers=1)
    where = check_accounting(result)
    for cut in (140, 300, 700):
        reason = where[str(tmp_path / f"cut{cut}.dcm")]
        if reason != "series":  # a cut between elements leaves a valid (if useless) header
            assert "DICOM" in reason
    check_pixels(result)


def test_header_cut_inside_an_element_header_names_the_damage(data_root: Path, tmp_path: Path):
    """A real file cut 152 bytes in, inside an element's header: pydicom's reader raises struct.error there;
    the scan must name a corrupt header, not an unexpected error."""
    source = data_root / "mri/dicom/dicom2nifti/failing_sliceincrement_002/IM-0001-0003.dcm"
    (tmp_path / "cut.dcm").write_bytes(source.read_bytes()[:152])
    where = check_accounting(scan([tmp_path], workers=1))
    assert "corrupt or truncated DICOM header" in where[str(tmp_path / "cut.dcm")]


def test_truncated_pixel_data_flags_the_series(tmp_path: Path):
    data = Path(get_testdata_file("MR_small.dcm")).read_bytes()
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "cut.dcm").write_bytes(data[:-1000])
    result = scan([tmp_path / "s"], workers=1)
    check_accounting(result)
    (series,) = result.series
    assert "no_pixels" in series.flags
    assert any(f.startswith("pixel_issue:truncated") for f in series.flags), series.flags
    with pytest.raises(PixelReadError):
        load_slices(series, 3)


def test_one_truncated_file_in_a_series_keeps_the_others(tmp_path: Path):
    folder = tmp_path / "s"
    for i in range(3):
        mr_small(folder / f"{i}.dcm", SOPInstanceUID=f"1.2.3.4.{i}", ImagePositionPatient=[0, 0, i],
                 ImageOrientationPatient=[1, 0, 0, 0, 1, 0])
    data = (folder / "1.dcm").read_bytes()
    (folder / "1.dcm").write_bytes(data[:-500])
    result = scan([folder], workers=1)
    check_accounting(result)
    (series,) = result.series
    assert len(series.files) == 3 and "no_pixels" not in series.flags
    assert any(f.startswith("pixel_issue:") for f in series.flags)
    assert len(load_slices(series, 3)) == 2  # the two intact slices


def test_garbage_after_dicm_preamble(tmp_path: Path):
    rng = random.Random(7)
    (tmp_path / "garbage.dcm").write_bytes(b"\0" * 128 + b"DICM" + bytes(rng.randrange(256) for _ in range(4000)))
    (tmp_path / "preamble_only.dcm").write_bytes(b"\0" * 128 + b"DICM")
    result = scan([tmp_path], workers=1)
    where = check_accounting(result)
    for name in ("garbage.dcm", "preamble_only.dcm"):
        assert where[str(tmp_path / name)] != "series"
        assert "DICOM" in where[str(tmp_path / name)]


def test_missing_mandatory_tags(tmp_path: Path):
    mr_small(tmp_path / "no_series_uid" / "a.dcm", SeriesInstanceUID=None)
    mr_small(tmp_path / "no_sop_class" / "a.dcm", SOPClassUID=None, Modality=None)
    mr_small(tmp_path / "no_matrix" / "a.dcm", Rows=None, Columns=None)
    mr_small(tmp_path / "no_pixels" / "a.dcm", PixelData=None)
    mr_small(tmp_path / "no_geometry" / "a.dcm", ImageOrientationPatient=None, ImagePositionPatient=None)
    bare = pydicom.Dataset()  # a DICOM file whose dataset names no image, series or class
    bare.PatientName = "Nobody"
    bare.file_meta = pydicom.dataset.FileMetaDataset()
    bare.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    bare.file_meta.MediaStorageSOPClassUID = pydicom.uid.MRImageStorage
    bare.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4.5"
    (tmp_path / "bare").mkdir()
    bare.save_as(tmp_path / "bare" / "a.dcm", enforce_file_format=True)
    result = scan([tmp_path], workers=1)
    where = check_accounting(result)
    by_folder = {Path(s.files[0]).parent.name: s for s in result.series}
    assert by_folder["no_series_uid"].series_uid  # grouped by its folder instead
    assert by_folder["no_sop_class"].header["modality"] == ""
    assert "no_pixels" in by_folder["no_pixels"].flags
    assert by_folder["no_geometry"].header["orientation"] == "NA"
    assert "no_matrix" in by_folder  # pixels present, matrix unknown: a series whose pixels fail to decode
    assert "no usable data elements" in where[str(tmp_path / "bare" / "a.dcm")]
    check_pixels(result)
    with pytest.raises(PixelReadError):
        load_slices(by_folder["no_matrix"], 3)


def test_inconsistent_sizes_within_a_series(tmp_path: Path):
    """Rows changed without the pixel data (declared matrix larger than the stored data) -> flagged."""
    folder = tmp_path / "s"
    mr_small(folder / "good.dcm", SOPInstanceUID="1.2.3.9.1")
    mr_small(folder / "lying.dcm", SOPInstanceUID="1.2.3.9.2", Rows=128)
    result = scan([folder], workers=1)
    check_accounting(result)
    by_sub = {s.sub_series: s for s in result.series}
    assert set(by_sub) == {"64x64", "128x64"}  # one UID, two matrices: two sub-series
    assert any(f.startswith("pixel_issue:pixel data has") for f in by_sub["128x64"].flags)
    assert len(load_slices(by_sub["64x64"], 3)) == 1
    with pytest.raises(PixelReadError):
        load_slices(by_sub["128x64"], 3)


# --- file system trouble ------------------------------------------------------------------------------


def test_symlink_loops_and_broken_links(tmp_path: Path):
    root = tmp_path / "tree"
    mr_small(root / "a.dcm")
    (root / "loop_a").symlink_to(root / "loop_b")
    (root / "loop_b").symlink_to(root / "loop_a")
    (root / "self").symlink_to(root / "self")
    (root / "dangling").symlink_to(root / "does_not_exist")
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)  # directory loop: never descended
    result = scan([root], workers=1)
    where = check_accounting(result)
    assert where[str(root / "a.dcm")] == "series"
    assert where[str(root / "loop_a")] == "symbolic link loop"
    assert where[str(root / "loop_b")] == "symbolic link loop"
    assert where[str(root / "self")] == "symbolic link loop"
    assert where[str(root / "dangling")] == "broken symbolic link"
    assert result.n_walked == 5  # the folder link is not walked into (no endless loop, nothing counted twice)


def test_broken_link_and_missing_path_as_inputs(tmp_path: Path):
    (tmp_path / "dangling").symlink_to(tmp_path / "nothing")
    result = scan([tmp_path / "dangling", tmp_path / "nope"], workers=1)
    where = check_accounting(result)
    assert where[str(tmp_path / "dangling")] == "broken symbolic link"
    assert where[str(tmp_path / "nope")] == "path does not exist"


def test_fifo_is_not_opened(tmp_path: Path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(tmp_path / "pipe")  # opening it for reading would block forever
    result = scan([tmp_path], workers=1)
    assert check_accounting(result)[str(tmp_path / "pipe")] == "not a regular file"


def test_unreadable_file_simulated(tmp_path: Path, monkeypatch):
    """The reason given for a file that cannot be opened (simulated: works as root too)."""
    locked = mr_small(tmp_path / "locked.dcm")
    mr_small(tmp_path / "open.dcm")

    def fake_open(file, *args, **kwargs):
        if Path(file) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return builtins.open(file, *args, **kwargs)

    monkeypatch.setattr(files_module, "open", fake_open, raising=False)
    where = check_accounting(scan([tmp_path], workers=1))
    assert where[str(locked)] == "permission denied (file unreadable)"
    assert where[str(tmp_path / "open.dcm")] == "series"


def test_unreadable_folder_simulated(tmp_path: Path, monkeypatch):
    """A folder the walk cannot list is reported as one entry with its reason (simulated: works as root)."""
    mr_small(tmp_path / "ok" / "a.dcm")
    mr_small(tmp_path / "locked" / "a.dcm")
    real_walk = os.walk
    locked = str(tmp_path / "locked")

    def fake_walk(top, topdown=True, onerror=None, followlinks=False):
        for dirpath, dirnames, filenames in real_walk(top, topdown, onerror, followlinks):
            if locked in [os.path.join(dirpath, d) for d in dirnames]:
                dirnames.remove("locked")
                onerror(PermissionError(errno.EACCES, "Permission denied", locked))
            yield dirpath, dirnames, filenames

    monkeypatch.setattr(files_module.os, "walk", fake_walk)
    where = check_accounting(scan([tmp_path], workers=1))
    assert where[locked] == "permission denied (folder unreadable)"
    assert where[str(tmp_path / "ok" / "a.dcm")] == "series"


@pytest.mark.skipif(RUNNING_AS_ROOT, reason=ROOT_REASON)
def test_unreadable_file_and_folder_real_permissions(tmp_path: Path):
    locked_file = mr_small(tmp_path / "locked.dcm")
    locked_dir = tmp_path / "locked_dir"
    mr_small(locked_dir / "a.dcm")
    locked_file.chmod(0)
    locked_dir.chmod(0)
    try:
        where = check_accounting(scan([tmp_path], workers=1))
    finally:
        locked_dir.chmod(0o755)
        locked_file.chmod(0o644)
    assert where[str(locked_file)] == "permission denied (file unreadable)"
    assert where[str(locked_dir)] == "permission denied (folder unreadable)"


def test_root_can_read_chmod_000_files(tmp_path: Path):
    """As root the file mode does not stop reads: the file is simply scanned. (What can be tested as root.)"""
    if not RUNNING_AS_ROOT:
        pytest.skip("not root: the real-permission test above covers unreadable files")
    locked = mr_small(tmp_path / "locked.dcm")
    locked.chmod(0)
    try:
        assert check_accounting(scan([tmp_path], workers=1))[str(locked)] == "series"
    finally:
        locked.chmod(0o644)


def test_cli_on_a_bad_tree(tmp_path: Path, run_cli):
    root = tmp_path / "tree"
    mr_small(root / "good" / "a.dcm")
    (root / "empty.dcm").write_bytes(b"")
    (root / "garbage.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 300)
    (root / "dangling").symlink_to(root / "nothing")
    out = tmp_path / "scan.json"
    r = run_cli("scan", root, "--out", out, "-q")
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    assert "1 series from 4 files; 3 files skipped" in r.stdout
    assert run_cli("scan", root, "--out", out, "-q", "--strict").exit_code == 3


# --- fuzz: mutants of real files ------------------------------------------------------------------------

N_MUTANTS = 150
SEED = 20261122
KINDS = ("bitflip", "truncate", "insert", "header_garbage", "dicm_garbage")

BUNDLED_SOURCES = ("MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "CT_small.dcm",
                   "SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_rle_2frame.dcm", "test-SR.dcm")
POOL_SOURCES = (  # classic, rescaled, enhanced, mosaic, compressed (4 syntaxes), header-only, implicit VR, NIfTI, PNG
    "mri/dicom/dcm_qa_canon_61/3000_DTI_PA-ortho/3000_018.dcm",
    "mri/dicom/dcm_qa_philips/Magdeburg_2014_fmri/201_EPI_asc_CLEAR_0001_01.dcm",
    "mri/dicom/dcm_qa_xa30/9_gre_field_mapping/0001_1.3.12.2.1107.5.2.43.67093.2022071112105958125005113.dcm",
    "mri/dicom/dcm_qa/axasc35/MR.1.3.12.2.1107.5.2.32.35131.2014031012493950715786673",
    "mri/dicom/dicom2nifti/generic_compressed_jpegls_001/IM-0001-0003-0001.dcm",
    "mri/dicom/dicom2nifti/generic_compressed_rle_001/IM-0001-0003-0001.dcm",
    "mri/dicom/dicom2nifti/generic_compressed_j2k_001/IM-0001-0003-0001.dcm",
    "mri/dicom/dicom2nifti/generic_compressed_jpeg_001/IM-0001-0003-0001.dcm",
    "mri/dicom/dicom2nifti/philips_enhanced_fmri_001/IM-0001-9600-0001.dcm",
    "mri/dicom/dicom2nifti/ge_dti_001_implicit/IM-0001-0076-0001.dcm",
    "mri/nifti/niivue/fmri_pitch.nii.gz",
    "mri/nifti/niivue/register/dwi.nii.gz",
    "ct-head/images/000.png",
)


def _sources() -> list[tuple[str, bytes]]:
    """(file name, bytes) of the files to mutate: pydicom's bundled files, plus pool files when present."""
    from radclass.config import data_root

    out = [(name, Path(get_testdata_file(name)).read_bytes()) for name in BUNDLED_SOURCES]
    root = data_root()
    for rel in POOL_SOURCES:
        if (root / rel).is_file():
            out.append((Path(rel).name, (root / rel).read_bytes()))
    if (root / POOL_SOURCES[-3]).is_file():  # an uncompressed NIfTI, so that header bit flips reach nibabel
        import gzip

        out.append(("fmri_pitch.nii", gzip.decompress((root / POOL_SOURCES[-3]).read_bytes())))
    return out


def _mutate(data: bytes, kind: str, rng: random.Random) -> bytes:
    b = bytearray(data)
    head = min(len(b), 4096)  # most damage goes to the header, where the parsers work hardest
    if kind == "bitflip":
        for _ in range(rng.randint(1, 16)):
            pos = rng.randrange(head) if rng.random() < 0.8 else rng.randrange(len(b))
            b[pos] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        del b[(rng.randrange(head) if rng.random() < 0.5 else rng.randrange(len(b))):]
    elif kind == "insert":
        pos = rng.randrange(head)
        b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif kind == "header_garbage":
        pos, n = rng.randrange(head), rng.randint(16, 512)
        b[pos:pos + n] = bytes(rng.randrange(256) for _ in range(n))
    else:  # dicm_garbage: a DICOM preamble followed by noise
        b = bytearray(b"\0" * 128 + b"DICM" + bytes(rng.randrange(256) for _ in range(rng.randint(0, 2000))))
    return bytes(b)


@pytest.fixture(scope="module")
def mutants(tmp_path_factory) -> tuple[Path, list[Path]]:
    """N_MUTANTS damaged copies, each in its own folder (so each is judged on its own)."""
    rng = random.Random(SEED)
    sources = _sources()
    root = tmp_path_factory.mktemp("mutants")
    paths = []
    for i in range(N_MUTANTS):
        name, data = sources[i % len(sources)]
        kind = KINDS[(i // len(sources)) % len(KINDS)]
        path = root / f"{i:03d}_{kind}" / name
        path.parent.mkdir()
        path.write_bytes(_mutate(data, kind, rng))
        paths.append(path)
    return root, paths


def test_fuzz_no_crash_and_no_lost_file(mutants):
    root, paths = mutants
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = scan([root], workers=1)
        where = check_accounting(result)
        assert result.n_walked == len(paths) == N_MUTANTS
        for p in paths:  # each mutant: in a series, or skipped with a reason
            assert str(p) in where, p
        check_pixels(result)
    # the damage is real: many mutants are rejected, many still form series
    n_skipped = sum(1 for v in where.values() if v != "series")
    assert 0.1 * N_MUTANTS < n_skipped < 0.9 * N_MUTANTS


def test_fuzz_cli_exit_codes(mutants, tmp_path: Path, run_cli):
    root, _ = mutants
    out = tmp_path / "scan.parquet"
    r = run_cli("scan", root, "--out", out, "-q", "--workers", 2)
    assert r.exit_code == 0, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert f"from {N_MUTANTS} files" in r.stdout
    assert run_cli("scan", root, "--out", out, "-q", "--strict").exit_code == 3
