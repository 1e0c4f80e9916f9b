"""``radclass scan``: series found in the real data pool (checked against MANIFEST.csv), every file accounted
for, output formats, exit codes, and the folder/content rules on small trees built from pydicom's test files.

The pool tests skip (with the reason) when the pool is absent; the others need only pydicom's bundled files.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from pydicom.data import get_testdata_file

from radclass.outputs.tables import read_table
from radclass.pipeline.scan import scan, scan_columns

ORIENTATIONS = {"AX", "COR", "SAG", "OBL", "MIXED", "NA"}

# README "Header-only files": image instances whose Pixel Data element was removed from the pool copy.
HEADER_ONLY = (
    "failing_gantrytilting_001", "failing_notavolume_001", "failing_sliceincrement_001",
    "failing_sliceincrement_002", "philips_anatomical_002", "philips_dti_002", "philips_dti_002_implicit",
    "philips_enhanced_anatomical_001", "philips_enhanced_anatomical_001_implicit", "philips_enhanced_dti_001",
    "philips_enhanced_dti_001_implicit", "philips_enhanced_fmri_001", "philips_enhanced_fmri_001_implicit",
    "siemens_dti_001", "siemens_dti_001_implicit", "siemens_fmri_001", "siemens_fmri_001_implicit",
    "siemens_multiframe_anatomical_001",
)

# MANIFEST rows labelled from knowledge of the acquisition ("isotropic 2D EPI volume: slice (storage) axis"):
# the voxels are isotropic and the header records no slice axis (dim_info), so the scan says NA. (dwi.nii.gz
# records its slice axis and is read as AX, as MANIFEST says.)
ISOTROPIC_EPI_LABELLED_BY_HAND = ("mri/nifti/niivue/register/fmri.nii.gz",)


def walked_files(*roots: Path) -> list[str]:
    """Every regular file under ``roots`` (directory links not followed), independently of radclass."""
    out: list[str] = []
    for root in roots:
        for dirpath, _, names in os.walk(root):
            out.extend(os.path.join(dirpath, n) for n in names)
    return sorted(out)


def file_index(df: pd.DataFrame) -> dict[str, int]:
    """file path -> index of the one row that lists it; fails when a file is listed twice."""
    owner: dict[str, int] = {}
    for idx, files in df["files"].items():
        for f in str(files).split(";"):
            assert f not in owner, f"{f} is listed in two rows"
            owner[f] = idx
    return owner


def assert_accounts_for(df: pd.DataFrame, files: list[str]) -> None:
    """Every walked file is in exactly one row; n_files adds up; skipped rows carry a reason."""
    assert int(df["n_files"].sum()) == len(files)
    owner = file_index(df)
    assert sorted(owner) == sorted(files)
    for _, row in df.iterrows():
        assert row["n_files"] == len(str(row["files"]).split(";"))
        if row["status"] == "ok":
            assert row["orientation"] in ORIENTATIONS, row["path"]
        else:
            assert row["status"] in ("skipped", "error")
            assert row["n_files"] == 1
            assert isinstance(row["reason"], str) and len(row["reason"]) > 5, row["path"]
            assert "Traceback" not in row["reason"]


# --- the real pool -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dicom_pool_table(data_root, run_cli, tmp_path_factory):
    """``radclass scan <pool>/mri/dicom --out scan.csv`` once for the module: (result, table)."""
    out = tmp_path_factory.mktemp("scan_dicom") / "scan.csv"
    result = run_cli("scan", data_root / "mri" / "dicom", "--out", out, "-q", "--workers", 1)
    assert result.exit_code == 0, result.output
    return result, read_table(out)


def test_cli_scan_of_dicom_pool_accounts_for_every_file(data_root, dicom_pool_table):
    result, df = dicom_pool_table
    files = walked_files(data_root / "mri" / "dicom")
    assert list(df.columns) == scan_columns()
    assert_accounts_for(df, files)
    n_ok = int((df["status"] == "ok").sum())
    n_skipped = int((df["status"] != "ok").sum())
    assert f"{n_ok} series from {len(files)} files; {n_skipped} files skipped" in result.stdout
    # (series_uid, sub_series) names one series
    ok = df[df["status"] == "ok"]
    assert not ok.duplicated(["series_uid", "sub_series"]).any()


def _check_manifest_folder(ok: pd.DataFrame, owner: dict[str, int], root: Path, mrow: pd.Series) -> None:
    folder = root / mrow["relpath"]
    files = walked_files(folder)
    assert files, f"{folder} is empty"
    missing = [f for f in files if f not in owner]
    assert not missing, f"{mrow['relpath']}: files in no series: {missing[:3]}"
    rows = ok.loc[sorted({owner[f] for f in files})]
    for _, row in rows.iterrows():  # the folder's series hold the folder's files only
        assert all(f.startswith(str(folder) + os.sep) for f in row["files"].split(";")), row["path"]
    assert int(rows["n_files"].sum()) == int(mrow["n_files"]), mrow["relpath"]
    assert set(rows["orientation"]) == {mrow["orientation"]}, (mrow["relpath"], list(rows["sub_series"]))
    assert set(rows["modality"]) == {mrow["modality"]}, mrow["relpath"]
    acquisition = {a if isinstance(a, str) and a else "na" for a in rows["acquisition"]}
    assert acquisition == {mrow["acquisition"]}, mrow["relpath"]
    descriptions = {d if isinstance(d, str) else "" for d in rows["series_description"]}
    assert descriptions == {mrow["series_description"]}, mrow["relpath"]
    strengths = {round(float(v), 1) for v in rows["field_strength"] if pd.notna(v) and v != ""}
    expected = set() if mrow["field_strength"] == "na" else {round(float(mrow["field_strength"]), 1)}
    assert strengths == expected, mrow["relpath"]
    if mrow["vendor"] != "unknown":
        for manufacturer in rows["manufacturer"]:
            assert mrow["vendor"].lower()[:4] in str(manufacturer).lower(), (mrow["relpath"], manufacturer)


def test_every_manifest_dicom_folder_found_with_its_orientation(data_root, manifest, dicom_pool_table):
    """Each MANIFEST DICOM series folder under mri/dicom: all its files in series rows (possibly several
    sub-series) that carry the MANIFEST orientation, modality, acquisition, description and field strength."""
    _, df = dicom_pool_table
    ok = df[df["status"] == "ok"]
    owner = file_index(ok)
    rows = manifest[(manifest["format"] == "dicom") & manifest["relpath"].str.startswith("mri/dicom/")]
    assert len(rows) > 100
    for _, mrow in rows.iterrows():
        _check_manifest_folder(ok, owner, data_root, mrow)


def test_dicom_series_outside_mri_folder(data_root, manifest, pool_scan):
    """The DICOM rows stored elsewhere in the pool (the liver CT series) are found the same way."""
    df = pool_scan.to_frame()
    ok = df[df["status"] == "ok"]
    owner = file_index(ok)
    rows = manifest[(manifest["format"] == "dicom") & ~manifest["relpath"].str.startswith("mri/dicom/")]
    for _, mrow in rows.iterrows():
        _check_manifest_folder(ok, owner, data_root, mrow)


def test_non_image_objects_are_skipped_with_reason(data_root, dicom_pool_table):
    _, df = dicom_pool_table
    non_image = [f for f in walked_files(data_root / "mri" / "dicom") if f"{os.sep}non-image{os.sep}" in f]
    assert len(non_image) >= 3
    by_path = df.set_index("path")
    for f in non_image:
        row = by_path.loc[f]
        assert row["status"] == "skipped"
        assert "without pixel data" in row["reason"], row["reason"]
        assert any(k in row["reason"] for k in ("SR document", "raw data")), row["reason"]


def test_header_only_instances_still_form_flagged_series(data_root, dicom_pool_table):
    _, df = dicom_pool_table
    ok = df[df["status"] == "ok"]
    for name in HEADER_ONLY:
        folder = str(data_root / "mri" / "dicom" / "dicom2nifti" / name)
        rows = ok[ok["files"].str.startswith(folder + os.sep)]
        assert len(rows) == 1, name
        assert "no_pixels" in rows.iloc[0]["flags"].split(";"), name
    flagged = ok[ok["flags"].fillna("").str.contains("no_pixels")]
    assert len(flagged) == len(HEADER_ONLY)


def test_mixed_b_values_split_into_sub_series(data_root, dicom_pool_table):
    _, df = dicom_pool_table
    folder = str(data_root / "mri" / "dicom" / "dcm_qa_philips" / "Bangalore_2008_dwi_no-phi")
    rows = df[df["files"].str.startswith(folder + os.sep)]
    assert sorted(rows["sub_series"]) == ["b0", "b1000"]
    assert rows["series_uid"].nunique() == 1


def test_mosaics_count_their_tiles(data_root, dicom_pool_table):
    """dcm_qa mosaics: one file per series, ``n_frames`` = number of slices in the name (35 or 36)."""
    _, df = dicom_pool_table
    base = str(data_root / "mri" / "dicom" / "dcm_qa") + os.sep
    rows = df[df["path"].str.startswith(base)]
    assert len(rows) == 21
    for _, row in rows.iterrows():
        assert "mosaic" in row["flags"].split(";")
        assert row["n_files"] == 1
        assert row["n_frames"] == (35 if "35" in os.path.basename(row["path"]) else 36), row["path"]


def test_two_workers_give_the_same_table(data_root, dicom_pool_table):
    _, df1 = dicom_pool_table
    result = scan([data_root / "mri" / "dicom"], workers=2)
    df2 = result.to_frame()
    cols = ["path", "series_uid", "sub_series", "status", "n_files", "orientation", "files"]
    key = ["path", "series_uid", "sub_series"]
    a = df1[cols].fillna("").sort_values(key).reset_index(drop=True)
    b = df2[cols].fillna("").sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_manifest_nifti_and_png_rows_are_one_series_each(data_root, manifest, pool_scan):
    df = pool_scan.to_frame()
    by_path = df.set_index("path")
    rows = manifest[manifest["format"].isin(["nifti", "png"])]
    # The pool grows: every NIfTI/PNG file the scan finds is a MANIFEST row and every such row is found.
    scanned = {str(Path(p).relative_to(data_root)) for p in df.loc[df["format"].isin(["nifti", "image"]), "path"]}
    assert scanned == set(rows["relpath"])
    for _, mrow in rows.iterrows():
        row = by_path.loc[str(data_root / mrow["relpath"])]
        assert row["status"] == "ok", (mrow["relpath"], row["reason"])
        assert row["format"] == ("nifti" if mrow["format"] == "nifti" else "image")
        assert row["n_files"] == 1
        if mrow["relpath"] in ISOTROPIC_EPI_LABELLED_BY_HAND:
            assert row["orientation"] == "NA" and mrow["orientation"] != "NA"
        elif mrow["orientation"] == "NA" and _isotropic_slab(data_root / mrow["relpath"]):
            # MANIFEST NA = isotropic voxels; a slab's few slices still give its plane (all axial in the pool)
            assert row["orientation"] == "AX", mrow["relpath"]
        else:  # MANIFEST NA = isotropic voxels (NIfTI) or no geometry (PNG): our NA too
            assert row["orientation"] == mrow["orientation"], mrow["relpath"]


def _isotropic_slab(path: Path) -> bool:
    """A NIfTI volume with one axis of at most half the voxels of the others (radclass.io.geometry)."""
    if not path.name.endswith((".nii", ".nii.gz")):
        return False
    import nibabel as nib

    counts = sorted(nib.load(path).shape[:3])
    return len(counts) == 3 and counts[0] <= 0.5 * counts[1]


def test_whole_pool_accounts_for_every_file(pool_folders, pool_scan):
    files = walked_files(*pool_folders)
    assert pool_scan.n_walked == len(files)
    assert pool_scan.n_accounted == len(files)
    assert_accounts_for(pool_scan.to_frame(), files)
    reasons = {Path(s.path).name: s.reason for s in pool_scan.skipped}
    assert "not DICOM, NIfTI or an image" in reasons["labels.csv"]


# --- small trees built from pydicom's bundled files (no pool needed) ---------------------------------


def _mr_slices(folder: Path, n: int, *, series_uid: str = "1.2.826.0.1.3680043.2.1125.7777.1",
               rows: int | None = None) -> list[Path]:
    """``n`` slices of one axial MR series, made from MR_small.dcm."""
    folder.mkdir(parents=True, exist_ok=True)
    src = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    out = []
    for i in range(n):
        ds = src.copy()
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = f"{series_uid}.{i + 1}"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = i + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, 5.0 * i]
        if rows is not None:
            ds.Rows = rows
            ds.PixelData = ds.PixelData[: rows * ds.Columns * 2]
        path = folder / f"slice{i:03d}"
        ds.save_as(path)
        out.append(path)
    return out


def _write_nifti(path: Path, zooms=(1.0, 1.0, 3.0)) -> None:
    import nibabel as nib

    data = np.arange(8 * 8 * 6, dtype=np.int16).reshape(8, 8, 6)
    nib.save(nib.Nifti1Image(data, np.diag([*zooms, 1.0])), str(path))


def _write_png(path: Path) -> None:
    from PIL import Image

    Image.fromarray((np.arange(32 * 48) % 256).astype(np.uint8).reshape(32, 48)).save(path)


@pytest.fixture
def small_tree(tmp_path: Path) -> Path:
    """A mixed tree: a 4-slice MR series (files without extension), CT_small named ``.txt``, a NIfTI with
    sidecar, a PNG, a stray JSON, a text file named ``.dcm``, an SR document."""
    root = tmp_path / "tree"
    _mr_slices(root / "study" / "mr", 4)
    shutil.copy(get_testdata_file("CT_small.dcm"), root / "study" / "ct_small.txt")
    (root / "vol").mkdir()
    _write_nifti(root / "vol" / "t2.nii.gz")
    (root / "vol" / "t2.json").write_text(json.dumps(
        {"RepetitionTime": 2.5, "EchoTime": 0.09, "SeriesInstanceUID": "1.2.3.4", "Manufacturer": "Siemens",
         "MRAcquisitionType": "2D", "SeriesDescription": "t2_tse_tra"}))
    (root / "vol" / "orphan.json").write_text("{}")
    _write_png(root / "vol" / "slice.png")
    (root / "notes.dcm").write_text("this is not DICOM\n")
    shutil.copy(get_testdata_file("test-SR.dcm"), root / "report")
    return root


def test_content_not_names_decides(small_tree: Path):
    result = scan([small_tree], workers=1)
    df = result.to_frame()
    assert_accounts_for(df, walked_files(small_tree))
    by_path = df.set_index("path")
    mr = by_path.loc[str(small_tree / "study" / "mr")]
    assert (mr["status"], mr["format"], mr["n_files"], mr["orientation"]) == ("ok", "dicom", 4, "AX")
    ct = by_path.loc[str(small_tree / "study" / "ct_small.txt")]
    assert (ct["status"], ct["modality"]) == ("ok", "CT")
    assert "not DICOM" in by_path.loc[str(small_tree / "notes.dcm")]["reason"]
    assert "SR document" in by_path.loc[str(small_tree / "report")]["reason"]
    assert "no NIfTI" in by_path.loc[str(small_tree / "vol" / "orphan.json")]["reason"]
    png = by_path.loc[str(small_tree / "vol" / "slice.png")]
    assert (png["format"], png["orientation"], png["rows"], png["columns"]) == ("image", "NA", 32, 48)


def test_nifti_with_sidecar_is_one_series_of_two_files(small_tree: Path):
    df = scan([small_tree], workers=1).to_frame()
    row = df.set_index("path").loc[str(small_tree / "vol" / "t2.nii.gz")]
    assert row["format"] == "nifti" and row["n_files"] == 2
    assert row["files"].split(";") == [str(small_tree / "vol" / "t2.nii.gz"), str(small_tree / "vol" / "t2.json")]
    assert row["series_uid"] == "1.2.3.4"
    assert row["repetition_time"] == pytest.approx(2500.0)  # BIDS seconds -> DICOM ms
    assert row["echo_time"] == pytest.approx(90.0)
    assert row["acquisition"] == "2D" and row["manufacturer"] == "Siemens"
    assert row["orientation"] == "AX"  # lowest resolution along z
    assert row["n_frames"] == 6


def test_mixed_matrix_under_one_uid_gives_sub_series(tmp_path: Path):
    uid = "1.2.826.0.1.3680043.2.1125.7777.9"
    _mr_slices(tmp_path / "s", 3, series_uid=uid)
    extra = _mr_slices(tmp_path / "tmp", 2, series_uid=uid, rows=32)
    for i, p in enumerate(extra):  # same folder, same UID, other matrix
        ds = pydicom.dcmread(p)
        ds.SOPInstanceUID = f"{uid}.{100 + i}"
        ds.save_as(tmp_path / "s" / f"small{i}")
    shutil.rmtree(tmp_path / "tmp")
    df = scan([tmp_path / "s"], workers=1).to_frame()
    assert sorted(zip(df["sub_series"], df["n_files"])) == [("32x64", 2), ("64x64", 3)]
    assert set(df["series_uid"]) == {uid}


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_output_formats_round_trip(small_tree: Path, tmp_path: Path, run_cli, suffix: str):
    out = tmp_path / f"scan{suffix}"
    result = run_cli("scan", small_tree, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    back = read_table(out)
    expected = scan([small_tree], workers=1).to_frame()
    assert list(back.columns) == scan_columns()
    assert len(back) == len(expected)
    cols = ["path", "series_uid", "sub_series", "status", "format", "n_files", "n_frames", "orientation", "files"]
    key = ["status", "path"]
    a = back[cols].sort_values(key).reset_index(drop=True)
    b = expected[cols].sort_values(key).reset_index(drop=True)
    for c in cols:
        left = [("" if pd.isna(v) else str(v)) for v in a[c]]
        right = [("" if pd.isna(v) else str(v)) for v in b[c]]
        assert left == right, (suffix, c)
    assert int(back["n_files"].sum()) == len(walked_files(small_tree))
    if suffix == ".parquet":
        assert pd.api.types.is_integer_dtype(back["n_files"])


def test_exit_codes(small_tree: Path, tmp_path: Path, run_cli):
    good = tmp_path / "ok.csv"
    r = run_cli("scan", small_tree, "--out", good, "-q")
    assert r.exit_code == 0 and good.exists()
    assert "series from" in r.stdout and "files skipped" in r.stdout
    # --strict: anything skipped (the tree has a stray JSON, a text file, an SR) -> 3
    assert run_cli("scan", small_tree, "--out", good, "-q", "--strict").exit_code == 3
    clean = tmp_path / "clean"
    _mr_slices(clean, 2)
    assert run_cli("scan", clean, "--out", good, "-q", "--strict").exit_code == 0
    # bad arguments: unsupported output type, missing output folder, no input, unknown option -> 2
    r = run_cli("scan", small_tree, "--out", tmp_path / "out.txt", "-q")
    assert r.exit_code == 2 and "output must end in" in r.output
    r = run_cli("scan", small_tree, "--out", tmp_path / "no" / "such" / "out.csv", "-q")
    assert r.exit_code == 2 and "does not exist" in r.output
    assert run_cli("scan", "--out", good).exit_code == 2
    assert run_cli("scan", small_tree, "--out", good, "--no-such-option").exit_code == 2
    # bad output type is refused before any work: no output written
    assert not (tmp_path / "out.txt").exists()


def test_missing_input_path_is_refused_or_accounted_for(tmp_path: Path, run_cli):
    """An input that does not exist: either refused as a bad argument (2) or listed as a skipped entry."""
    out = tmp_path / "s.csv"
    r = run_cli("scan", tmp_path / "nope", "--out", out, "-q")
    assert r.exception is None or isinstance(r.exception, SystemExit)
    if r.exit_code == 2:
        return
    assert r.exit_code == 0
    assert list(read_table(out)["reason"]) == ["path does not exist"]
    assert run_cli("scan", tmp_path / "nope", "--out", out, "-q", "--strict").exit_code == 3


def test_output_path_that_is_a_folder_is_refused(small_tree: Path, tmp_path: Path, run_cli):
    out = tmp_path / "table.csv"
    out.mkdir()
    r = run_cli("scan", small_tree, "--out", out, "-q")
    assert r.exit_code != 0
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_field_strength_in_gauss_is_read_as_tesla():
    from radclass.io.header_values import tesla

    assert tesla(15000.0) == 1.5  # old GE Genesis headers store gauss
    assert tesla(3.0) == 3.0 and tesla(7.0) == 7.0 and tesla(None) is None


def test_a_nifti_pair_is_one_series_and_an_analyze_header_says_why_not(tmp_path: Path):
    import nibabel as nib

    data = np.arange(16 * 16 * 4, dtype=np.int16).reshape(16, 16, 4)
    affine = np.diag([0.9, 0.9, 3.0, 1.0])
    nib.save(nib.Nifti1Pair(data, affine), tmp_path / "pair.img")  # writes pair.hdr + pair.img
    nib.save(nib.AnalyzeImage(data, affine), tmp_path / "old.img")  # old.hdr + old.img, no NIfTI magic
    (tmp_path / "alone.img").write_bytes(b"\x00" * 400)  # an .img with no header beside it
    result = scan([tmp_path], workers=1)
    (series,) = result.series
    assert series.format == "nifti" and series.files == [str(tmp_path / "pair.hdr"), str(tmp_path / "pair.img")]
    assert series.header["orientation"] == "AX" and series.n_frames == 4
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert "Analyze 7.5 header" in reasons["old.hdr"] and "convert it to NIfTI" in reasons["old.hdr"]
    assert reasons["old.img"] == "IMG file with no NIfTI beside it"
    assert "unrecognised content" in reasons["alone.img"]
    from radclass.io.pixels import load_volume

    np.testing.assert_array_equal(load_volume(series), data)  # the voxels come from the .img
