"""The timing model (radclass.training.timing_model, radclass.models.bundle.TimingModel): NIfTI volumes that
dcm2niix wrote without a sidecar keep their TE (``descrip``), TR (pixdim[4]) and b-values (``.bval``); the
bundle's timing model names them, only where its class's validated threshold allows, and abstains elsewhere."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from radclass.features.header import TIMING_FIELDS, timing_row
from radclass.io.volumes import nifti_series
from radclass.models.bundle import BUNDLED_DIR, BundleError, ModelBundle, TimingModel
from radclass.models.decision import header_forest_votes, header_is_timing_only
from radclass.pipeline.scan import scan
from radclass.taxonomy import UNKNOWN
from radclass.training.forest import ForestData
from radclass.training.timing_model import nested_lodo, thresholds_from, timing_label

SERIES = {  # pool DICOM series -> (label, what the conversion keeps)
    "mri/dicom/dcm_qa/AxAsc36mb2a": "BOLD",  # TR 3000, TE 34
    "mri/dicom/dcm_qa_ge/05_3D_Ax_T1_MP_RAGE_R22": "T1",
    "mri/dicom/dcm_qa_canon_61/3000_DTI_PA-ortho": "DWI",  # 4D, with a .bval file
}


def _dcm2niix() -> str:
    exe = shutil.which("dcm2niix")
    if exe is None:
        pytest.skip("dcm2niix not installed (Debian package dcm2niix)")
    return exe


@pytest.fixture(scope="module")
def converted(data_root: Path, tmp_path_factory) -> Path:
    """The SERIES converted by dcm2niix without a sidecar (``-b n``), one folder each."""
    exe = _dcm2niix()
    out = tmp_path_factory.mktemp("nifti")
    for i, rel in enumerate(SERIES):
        folder = out / f"{i}_{SERIES[rel]}"
        folder.mkdir()
        subprocess.run([exe, "-b", "n", "-z", "y", "-f", "vol", "-o", str(folder), str(data_root / rel)], check=True)
        assert not list(folder.glob("*.json")), "dcm2niix -b n wrote a sidecar"
    return out


def test_the_reader_keeps_dcm2niix_timing(converted: Path):
    bold = nifti_series(next((converted / "0_BOLD").glob("*.nii.gz")), None).header
    assert bold["repetition_time"] == pytest.approx(3000) and bold["echo_time"] == pytest.approx(34)
    dwi_file = next((converted / "2_DWI").glob("*.nii.gz"))
    dwi = nifti_series(dwi_file, None)
    assert dwi.header["b_values"].startswith("0\\") and any(f.endswith(".bval") for f in dwi.files)
    assert header_is_timing_only(dwi.header) and not header_forest_votes(dwi.header)


def test_another_writers_pixdim_is_no_tr(tmp_path: Path):
    img = nib.Nifti1Image(np.zeros((8, 8, 4), np.int16), np.eye(4))
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = 2.0
    img.header["descrip"] = b"FSL5.0"
    nib.save(img, tmp_path / "x.nii.gz")
    header = nifti_series(tmp_path / "x.nii.gz", None).header
    assert header["repetition_time"] is None and header["echo_time"] is None


def test_bval_and_bvec_belong_to_their_volume(converted: Path):
    result = scan([converted / "2_DWI"])
    assert len(result.series) == 1 and not result.skipped
    stray = converted / "stray.bval"
    stray.write_text("0 1000\n")
    try:
        skipped = scan([converted]).skipped
        assert [Path(s.path).name for s in skipped] == ["stray.bval"]
        assert "no NIfTI beside it" in skipped[0].reason
    finally:
        stray.unlink()


def test_timing_rows_keep_only_what_a_nifti_keeps():
    row = {"repetition_time": 500.0, "echo_time": 12.0, "image_type": "ORIGINAL\\PRIMARY", "manufacturer": "GE"}
    reduced = timing_row(row)
    assert reduced["repetition_time"] == 500.0 and reduced["image_type"] is None and reduced["manufacturer"] is None
    assert {k for k, v in reduced.items() if v is not None} <= set(TIMING_FIELDS)
    assert timing_label("T1C") == "T1" and timing_label("FLAIR") == "T2"  # the T2 family: the fluid test decides


def _toy(seed: int = 0) -> ForestData:
    """Four datasets; TR separates BOLD (short TR, long TE) from T1 (short TE)."""
    rng = np.random.default_rng(seed)
    X, y, g = [], [], []
    for d in "abcd":
        for i in range(10):
            bold = i % 2 == 0
            X.append([3000 + rng.normal(0, 50), 30 if bold else 3, 0, 0, 2.5, 3, -1, -1, 0])
            y.append("BOLD" if bold else "T1")
            g.append(d)
    return ForestData(np.array(X, np.float32), np.array(y, object), np.array(g, object))


def test_nested_answers_of_a_dataset_ignore_its_own_labels():
    data = _toy()
    first = nested_lodo(data, log=lambda _: None)
    scrambled = ForestData(data.X, data.y.copy(), data.groups)
    held = data.groups == "a"
    scrambled.y[held] = np.where(scrambled.y[held] == "BOLD", "T1", "BOLD")
    second = nested_lodo(scrambled, log=lambda _: None)
    assert list(first.answer[held]) == list(second.answer[held])
    assert first.chosen["a"] == second.chosen["a"]
    assert (first.answer == data.y).mean() > 0.9


def test_a_class_without_enough_datasets_abstains():
    proba = np.zeros((6, 16), np.float32)
    proba[:, 0] = 0.9  # six confident T1 answers, all from one dataset
    t = thresholds_from(proba, np.array(["T1"] * 6, object), np.array(["a"] * 6, object))
    assert t == {}


def test_the_bundled_timing_model_is_typed_and_validated():
    reading = ModelBundle.load().metadata.timing
    assert reading is not None and "T1C" not in reading.classes
    assert reading.thresholds and all(0 < t <= 1 for t in reading.thresholds.values())
    with pytest.raises(BundleError, match="does not compute"):
        TimingModel(features=("no_such_feature",), classes=("T1",), thresholds={})
    with pytest.raises(BundleError, match="lack"):
        TimingModel(features=("echo_time",), classes=("T1",), thresholds={"DWI": 0.5})
    meta = json.loads((BUNDLED_DIR / "mri-series" / "bundle.json").read_text())
    outer = meta["timing_model"]["validation"]["outer_lodo"]
    assert outer["precision"]["n"] > 0 and outer["series"] >= outer["answered"]["k"]


def test_annotate_names_converted_volumes_from_their_timing(converted: Path, tmp_path: Path, run_cli):
    plain = tmp_path / "plain"
    plain.mkdir()
    shutil.copy(next((converted / "0_BOLD").glob("*.nii.gz")), plain / "stripped.nii.gz")
    stripped = nib.load(plain / "stripped.nii.gz")
    stripped.header["descrip"] = b""  # the TE gone: nothing but pixels and geometry
    nib.save(stripped, plain / "stripped.nii.gz")
    out = tmp_path / "x.csv"
    result = run_cli("annotate", converted, plain, "--out", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    by_folder = {Path(p).parent.name: r for p, r in zip(table.path, table.to_dict("records"))}
    for folder, label in (("0_BOLD", "BOLD"), ("1_T1", "T1"), ("2_DWI", "DWI")):
        row = by_folder[folder]
        assert row["sequence"] == label, (folder, row["reason"])
        assert "sequence_from_timing" in row["flags"]
    assert by_folder["plain"]["sequence"] == UNKNOWN and "sequence_from_timing" not in str(by_folder["plain"]["flags"])


def test_a_stripped_dicom_series_goes_to_the_timing_model(data_root: Path, tmp_path: Path, run_cli):
    """An export that removed every field naming the technique, TR and TE kept: timing only, like the NIfTI."""
    import pydicom

    source = data_root / "mri/dicom/dcm_qa/AxAsc36mb2a"
    out = tmp_path / "stripped"
    out.mkdir()
    for f in sorted(p for p in source.iterdir() if p.is_file()):
        ds = pydicom.dcmread(f)
        for keyword in ("ImageType", "ScanningSequence", "SequenceVariant", "SequenceName", "ScanOptions"):
            if keyword in ds:
                delattr(ds, keyword)
        for tag in [t for t in ds.keys() if t.group % 2 == 1]:  # private groups (Siemens CSA headers) too
            del ds[tag]
        ds.save_as(out / f.name)
    header = scan([out]).series[0].header
    assert header_is_timing_only(header)
    csv = tmp_path / "x.csv"
    result = run_cli("annotate", out, "--out", csv)
    assert result.exit_code == 0, result.output
    row = pd.read_csv(csv).iloc[0]
    assert row["sequence"] == "BOLD" and "sequence_from_timing" in row["flags"]


def test_an_unreadable_bval_is_flagged_and_the_volume_kept(converted: Path, tmp_path: Path):
    folder = tmp_path / "dwi"
    folder.mkdir()
    nii = next((converted / "2_DWI").glob("*.nii.gz"))
    shutil.copy(nii, folder / nii.name)
    (folder / nii.name.replace(".nii.gz", ".bval")).write_text("0 one-thousand\n")
    result = scan([folder])
    assert len(result.series) == 1 and not result.skipped
    series = result.series[0]
    assert any(str(f).startswith("sidecar_unreadable") for f in series.flags)
    assert not series.header.get("b_values") and series.header["echo_time"] is not None
