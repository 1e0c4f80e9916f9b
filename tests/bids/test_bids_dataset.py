"""``radclass bids`` end to end: real dcm2niix, the official validator, re-runs, dry runs, the demo study."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bids_helpers import POOL_SUBSET, tool
from radclass.outputs.bids.dataset import build_bids
from radclass.outputs.bids.plan import read_ledger


def _validate(root: Path):
    from radclass.outputs.bids.validate import validate

    tool("bids-validator-deno")
    return validate(root)


def _tree(root: Path) -> dict[str, int]:
    """Relative path -> size of every file (the ledger and exports included)."""
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}


def test_pool_subset_validates_with_zero_errors(subset_dataset) -> None:
    root, result = subset_dataset
    report = _validate(root)
    assert report.errors == [], report.counts("error")
    assert len(result.converted) >= 15
    vendors = {json.loads((root / (r.bids_path + ".json")).read_text()).get("Manufacturer", "?").split()[0].upper()
               for r in result.converted}
    assert {"SIEMENS", "GE", "PHILIPS", "CANON", "TOSHIBA", "HITACHI", "HYPERFINE"} <= vendors, vendors


def test_names_come_from_the_labels(subset_dataset) -> None:
    root, result = subset_dataset
    paths = {r.bids_path.split("/", 1)[1] for r in result.converted if r.participant == "12343hucheng"}
    ses = "ses-20220711"
    stem = f"sub-12343hucheng_{ses}"
    assert {f"{ses}/fmap/{stem}_magnitude1", f"{ses}/fmap/{stem}_magnitude2", f"{ses}/fmap/{stem}_phasediff",
            f"{ses}/dwi/{stem}_dir-AP_dwi", f"{ses}/dwi/{stem}_dir-PA_dwi", f"{ses}/func/{stem}_task-unknown_bold",
            f"{ses}/anat/{stem}_run-1_T1w", f"{ses}/anat/{stem}_run-2_T1w"} <= paths, paths
    bold = json.loads((root / f"sub-12343hucheng/{ses}/func/{stem}_task-unknown_bold.json").read_text())
    assert bold["TaskName"] == "unknown" and bold["RepetitionTime"] > 0
    dwi = root / f"sub-12343hucheng/{ses}/dwi/{stem}_dir-AP_dwi"
    assert Path(f"{dwi}.bval").is_file() and Path(f"{dwi}.bvec").is_file()
    for name in ("dataset_description.json", "participants.tsv", "README.md", ".bidsignore"):
        assert (root / name).is_file(), name
    assert "PatientName" not in bold and "PatientID" not in bold  # dcm2niix -ba y


def test_every_input_series_is_in_the_dataset_or_skipped_with_a_reason(subset_dataset, subset_rows) -> None:
    root, result = subset_dataset
    ledger = read_ledger(root)
    by_uid = {r["series_uid"] for r in ledger}
    for row in subset_rows:
        assert row["series_uid"] in by_uid, row["path"]
    assert all(r["reason"] for r in ledger if r["status"] == "skipped")
    reasons = {Path(r["source"]).name: r["reason"] for r in ledger if r["status"] == "skipped"}
    assert "localizer" in reasons["01-anat-scout"] and "ADC" in reasons["11_DWI_dir80_PA"]
    assert len({r["series_uid"] for r in ledger}) == len(POOL_SUBSET)


def test_rerun_is_idempotent_and_adds_without_renaming(subset_rows, subset_dataset, tmp_path: Path) -> None:
    root, first = subset_dataset
    # The same input again into a copy of the dataset: nothing converted again, the same tree.
    import shutil

    copy = tmp_path / "again"
    shutil.copytree(root, copy, symlinks=True)
    before = _tree(copy)
    again = build_bids(subset_rows, copy)
    assert _tree(copy) == before
    assert [(r.key, r.bids_path) for r in again.rows] == [(r.key, r.bids_path) for r in first.rows]
    # First one T1w alone, then everything: the first T1w keeps its run-less name, the second gets run-2.
    grown = tmp_path / "grown"
    t1 = [r for r in subset_rows if r["path"].endswith("5_anat-T1w_acq-tfl")]
    build_bids(t1, grown)
    (alone,) = [r["bids_path"] for r in read_ledger(grown) if r["status"] == "converted"]
    assert alone.endswith("ses-20220711_T1w")
    build_bids(subset_rows, grown)
    ledger = {r["key"]: r["bids_path"] for r in read_ledger(grown) if r["status"] == "converted"}
    assert ledger[t1[0]["series_uid"]] == alone
    assert sum(p.endswith("_run-2_T1w") and "12343hucheng" in p for p in ledger.values()) == 1
    assert (grown / (alone + ".nii.gz")).is_file()
    # A series relabelled on a later run (here to SCOUT) keeps its converted file and ledger entry.
    relabelled = [{**r, "sequence": "SCOUT"} if r["series_uid"] == t1[0]["series_uid"] else r for r in subset_rows]
    build_bids(relabelled, grown)
    assert {r["key"]: r["bids_path"] for r in read_ledger(grown) if r["status"] == "converted"} == ledger
    # A converted file that went missing comes back under the same name.
    (grown / (alone + ".nii.gz")).unlink()
    build_bids(subset_rows, grown)
    assert (grown / (alone + ".nii.gz")).is_file()
    assert _validate(grown).errors == []


def test_dry_run_writes_nothing_and_plans_the_same_names(subset_rows, subset_dataset, tmp_path: Path) -> None:
    root, real = subset_dataset
    target = tmp_path / "never"
    plan = build_bids(subset_rows, target, dry_run=True)
    assert not target.exists()
    assert sorted(r.bids_path for r in plan.converted) == sorted(r.bids_path for r in real.converted)


def test_cli_dry_run_prints_the_plan(subset_dirs, subset_dataset, run_cli, tmp_path: Path) -> None:
    root, _ = subset_dataset
    table = tmp_path / "ann.csv"
    from radclass.outputs.tables import write_table
    from radclass.pipeline.annotate import annotate_paths

    write_table(annotate_paths(subset_dirs[:3], progress=False, workers=1), table)
    result = run_cli("bids", *subset_dirs[:3], "--annotations", table, "--out", tmp_path / "ds", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output and "task-unknown_bold" in result.output
    assert not (tmp_path / "ds").exists()
    wrong = run_cli("bids", tmp_path, "--annotations", table, "--out", tmp_path / "ds")
    assert wrong.exit_code == 2 and "No row of" in wrong.output
    missing = run_cli("bids", tmp_path / "absent", "--out", tmp_path / "ds")
    assert missing.exit_code == 2 and "no such file or folder" in missing.output


def test_cli_validate(subset_dirs, run_cli, tmp_path: Path) -> None:
    tool("bids-validator-deno")
    result = run_cli("bids", *subset_dirs[:3], "--out", tmp_path / "ds", "--validate", "-q")
    assert result.exit_code == 0, result.output
    assert "3 images converted" in result.output and "bids-validator: 0 errors" in result.output


def test_annotate_bids_option_builds_a_dataset(subset_dirs, run_cli, tmp_path: Path) -> None:
    tool("dcm2niix")
    result = run_cli("annotate", subset_dirs[0], subset_dirs[3], "--out", tmp_path / "a.csv", "--bids",
                     tmp_path / "ds", "-q")
    assert result.exit_code == 0, result.output
    assert "BIDS: 3 images" in result.output
    assert sorted(p.name for p in (tmp_path / "ds").rglob("*.nii.gz")) == [
        "sub-12343hucheng_ses-20220711_T1w.nii.gz", "sub-12343hucheng_ses-20220711_magnitude1.nii.gz",
        "sub-12343hucheng_ses-20220711_magnitude2.nii.gz"]


def test_nifti_inputs_are_copied_with_a_sidecar(data_root: Path, tmp_path: Path) -> None:
    """NIfTI files are copied in; labels given here (the conversion is under test, not the models)."""
    import nibabel as nib
    import numpy as np

    from radclass.pipeline.scan import scan

    folder = data_root / "mri" / "nifti" / "niivue"
    run = tmp_path / "in" / "sub-07"
    run.mkdir(parents=True)
    img = nib.Nifti1Image(np.random.default_rng(0).integers(0, 100, (8, 8, 4, 5)).astype(np.int16), np.eye(4))
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = 2.0
    nib.save(img, run / "rest.nii")  # uncompressed: gzipped on the way in
    labels = {"chris_t1.nii.gz": "T1", "fmri_pitch.nii.gz": "BOLD", "chris_MRA.nii.gz": "MRA", "rest.nii": "BOLD"}
    inputs = [folder / n for n in ("chris_t1.nii.gz", "fmri_pitch.nii.gz", "chris_MRA.nii.gz")] + [run / "rest.nii"]
    rows = [{**s.row(), "sequence": labels[Path(s.path).name], "contrast": "pre"}
            for s in scan(inputs, workers=1).series]
    result = build_bids(rows, tmp_path / "ds")
    report = _validate(tmp_path / "ds")
    assert report.errors == [], report.counts("error")
    assert sorted(r.bids_path for r in result.converted) == [
        "sub-07/func/sub-07_task-unknown_bold", "sub-niivue/anat/sub-niivue_T1w", "sub-niivue/anat/sub-niivue_angio"]
    (skipped,) = result.skipped
    assert skipped.source.endswith("fmri_pitch.nii.gz") and "single BOLD volume" in skipped.reason
    side = json.loads((tmp_path / "ds" / "sub-07/func/sub-07_task-unknown_bold.json").read_text())
    assert side == {"RepetitionTime": 2.0, "TaskName": "unknown"}
    assert nib.load(tmp_path / "ds" / "sub-07/func/sub-07_task-unknown_bold.nii.gz").shape == (8, 8, 4, 5)



def test_a_nifti_pair_is_written_as_one_file(tmp_path: Path) -> None:
    """A NIfTI pair (.hdr + .img) becomes one .nii.gz with the same voxels and affine; the validator accepts it."""
    import nibabel as nib
    import numpy as np

    from radclass.pipeline.scan import scan

    run = tmp_path / "in" / "sub-08"
    run.mkdir(parents=True)
    data = np.random.default_rng(1).integers(0, 300, (12, 12, 6)).astype(np.int16)
    affine = np.diag([1.0, 1.0, 2.0, 1.0])
    nib.save(nib.Nifti1Pair(data, affine), run / "t1.img")
    rows = [{**s.row(), "sequence": "T1", "contrast": "pre"} for s in scan([run], workers=1).series]
    result = build_bids(rows, tmp_path / "ds")
    assert [r.bids_path for r in result.converted] == ["sub-08/anat/sub-08_T1w"]
    out = nib.load(tmp_path / "ds" / "sub-08/anat/sub-08_T1w.nii.gz")
    np.testing.assert_array_equal(np.asanyarray(out.dataobj), data)
    np.testing.assert_allclose(out.affine, affine)
    report = _validate(tmp_path / "ds")
    assert report.errors == [], report.counts("error")

@pytest.mark.slow
def test_demo_study_validates_with_zero_errors(tmp_path: Path) -> None:
    from radclass.pipeline.annotate import annotate_paths
    from radclass.simulate.dicom import write_study

    tool("dcm2niix")
    truth = write_study(tmp_path / "dicom", None, 0, max_slices=6, max_matrix=128)
    rows = annotate_paths([tmp_path / "dicom"], progress=False, workers=1).to_dict("records")
    result = build_bids(rows, tmp_path / "bids")
    report = _validate(tmp_path / "bids")
    assert report.errors == [], report.counts("error")
    assert len(result.converted) >= 4
    # every simulated series is accounted for (the one other file is the study's truth.csv, skipped)
    assert {r.series_uid for r in result.rows} - {""} == set(truth["series_uid"])
    assert [Path(r.source).name for r in result.rows if not r.series_uid] == ["truth.csv"]
