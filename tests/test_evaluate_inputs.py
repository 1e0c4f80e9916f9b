"""Reading prediction/truth tables (annotate output, MANIFEST.csv) and pairing paths by common suffix."""

from __future__ import annotations

import pandas as pd
import pytest

from radclass.evaluate.inputs import match_paths, path_parts, read_predictions, read_truth


def test_path_parts() -> None:
    assert path_parts("/x/y/ds/series1/") == ("x", "y", "ds", "series1")
    assert path_parts(r"C:\data\ds\series1") == ("C:", "data", "ds", "series1")
    assert path_parts("./mri/dicom") == ("mri", "dicom")


def test_match_longest_suffix_one_to_one() -> None:
    truth = ["mri/dicom/ds/series1", "mri/dicom/ds/series2", "mri/dicom/other/series2", "mri/nifti/a/T1.nii.gz",
             "mri/nifti/b/T1.nii.gz", "ct-head/images/001.png"]
    pred = [
        "/x/y/shared/data/mri/dicom/ds/series1",  # full truth path is a suffix
        "/elsewhere/ds/series2",  # ds/series2: only one truth row ends like this
        "/tmp/T1.nii.gz",  # T1.nii.gz fits two truth rows equally: ambiguous
        "/x/images/001.png",
        "/nowhere/zzz",
        "/y/shared/data/mri/dicom/ds/series1",  # wants the same truth row as the first, as deep
    ]
    m = match_paths(pred, truth)
    pairs = {(p, t) for p, t, _ in m.pairs.itertuples(index=False)}
    assert (1, 1) in pairs and (3, 5) in pairs
    # the first and last predictions tie on the same truth row at the same depth -> neither is used
    assert 0 in m.ambiguous_pred and 5 in m.ambiguous_pred and 2 in m.ambiguous_pred
    assert sorted(m.unmatched_pred) == [0, 2, 4, 5]
    assert sorted(m.unmatched_truth) == [0, 2, 3, 4]


def test_deeper_match_wins_a_contested_truth_row() -> None:
    m = match_paths(["/a/ds/s1", "/root/mri/ds/s1"], ["mri/ds/s1"])
    assert m.pairs[["pred_index", "truth_index", "depth"]].values.tolist() == [[1, 0, 3]]
    assert m.ambiguous_pred == [0]


def test_read_annotate_output(tmp_path) -> None:
    table = pd.DataFrame({
        "path": ["/d/ds/s1", "/d/ds/s1", "/d/ds/s2", "/d/ds/s3", "/d/junk.txt", "/d/bad.dcm", "/d/ds/s4"],
        "sub_series": ["1", "2", "", "", "", "", ""],
        "status": ["ok", "ok", "ok", "unknown", "skipped", "error", "ok"],
        "n_files": [10, 30, 5, 5, 1, 1, 2],
        "sequence": ["T1", "T2", "FLAIR", "UNKNOWN", "", "", ""],
        "confidence": [0.9, 0.6, 0.8, 0.3, None, None, None],
        "p_T1": [0.9, 0.3, 0.1, 0.3, None, None, None],
        "p_T2": [0.05, 0.6, 0.1, 0.3, None, None, None],
        "p_FLAIR": [0.05, 0.1, 0.8, 0.4, None, None, None],
    })
    table.to_csv(tmp_path / "annotate.csv", index=False)
    pred = read_predictions(tmp_path / "annotate.csv")
    assert pred.dropped_status == {"skipped": 1, "error": 1, "no label": 1}  # counted, never silently lost
    assert pred.collapsed_sub_series == 1
    assert pred.table["path"].tolist() == ["/d/ds/s1", "/d/ds/s2", "/d/ds/s3"]
    assert pred.table["label"].tolist() == ["T2", "FLAIR", "UNKNOWN"]  # s1: the 30-file sub-series wins
    assert pred.score_classes == ["T1", "T2", "FLAIR"]


def test_sub_series_tie_broken_by_confidence() -> None:
    df = pd.DataFrame({"path": ["s", "s"], "label": ["T1", "T2"], "n_files": [5, 5], "confidence": [0.4, 0.7]})
    assert read_predictions(df).table["label"].tolist() == ["T2"]


def test_binary_probability_gives_confidence() -> None:
    df = pd.DataFrame({"path": ["a", "b"], "label": ["HEMORRHAGE", "NORMAL"], "probability": [0.8, 0.3]})
    pred = read_predictions(df)
    assert pred.table["confidence"].tolist() == pytest.approx([0.8, 0.7])


def test_read_manifest_as_truth(tmp_path) -> None:
    manifest = pd.DataFrame({
        "relpath": ["mri/nifti/x/T1.nii.gz", "mri/nifti/x/seg.nii.gz", "mri/dicom/ds/s1"],
        "sequence": ["T1", "OTHER", "BOLD"],
        "series_description": ["t1", "MASK: tumour", "fMRI"],
    })
    manifest.to_csv(tmp_path / "MANIFEST.csv", index=False)
    truth = read_truth(tmp_path / "MANIFEST.csv")
    assert truth.to_dict(orient="list") == {"path": ["mri/nifti/x/T1.nii.gz", "mri/dicom/ds/s1"], "label": ["T1", "BOLD"]}


def test_missing_columns_are_reported() -> None:
    with pytest.raises(ValueError, match="missing column"):
        read_predictions(pd.DataFrame({"file": ["a"], "label": ["T1"]}))
    with pytest.raises(ValueError, match="missing column"):
        read_truth(pd.DataFrame({"path": ["a"]}))
