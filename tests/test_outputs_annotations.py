"""Annotation rows (radclass.outputs.annotations), the one series key, and the anatomy gate's typed outcome."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from radclass.anatomy.gate import non_brain_outcome
from radclass.anatomy.vocabulary import Anatomy, AnatomyDecision, AnatomySource
from radclass.io.series import SCAN_COLUMNS, series_key
from radclass.models.decision import Evidence, SeriesFacts, decide_series, not_classified
from radclass.outputs.annotations import ANNOTATION_COLUMNS, annotation_columns, annotation_row
from radclass.pipeline.scan import scan
from radclass.taxonomy import SEQUENCES, Flag, Status
from radclass.values import as_text, is_missing

SERIES = "mri/dicom/dcm_qa_canon_61/3000_DTI_PA-ortho"
BRAIN = AnatomyDecision(Anatomy.BRAIN, AnatomySource.HEADER, "Body Part Examined HEAD")


@pytest.fixture(scope="module")
def series(data_root):
    result = scan([data_root / SERIES], workers=1)
    assert len(result.series) == 2 and all(s.sub_series for s in result.series)  # b0 + b1000 under one UID
    return result.series[0]


def test_row_of_a_decided_real_series(series):
    forest = np.full(len(SEQUENCES), 0.02, np.float32)
    forest[SEQUENCES.index("DWI")] = 1 - 0.02 * (len(SEQUENCES) - 1)
    facts = SeriesFacts(plane=series.header["orientation"], flags=(*series.flags, Flag.MOSAIC))
    a = decide_series(Evidence(forest_proba=forest, pixels_skipped=True), facts, classes=SEQUENCES,
                      orient_classes=("AX", "COR", "SAG"), fusion={"w_cnn": 0.0, "threshold_header": 0.2})
    row = annotation_row(series.row(), a, "mri-series-test", BRAIN)
    assert row["series_uid"] == series.series_uid and row["n_files"] == len(series.files)
    assert (row["status"], row["sequence"], row["bids_suffix"], row["contrast"]) == ("ok", "DWI", "dwi", "none")
    assert row["orientation"] == series.header["orientation"] and row["orientation_source"] == "header"
    assert row["flags"] == "mosaic;pixels_skipped" and row["model_version"] == "mri-series-test"
    assert row["p_DWI"] == round(a.confidence, 4) == row["confidence"] and sum(row[f"p_{c}"] for c in SEQUENCES) > 0.99
    assert (row["cnn_sequence"], row["forest_sequence"]) == ("", "DWI") and "vote_sequence" not in row
    assert (row["anatomy"], row["anatomy_source"]) == ("BRAIN", "header")
    assert all(type(row[k]) is str for k in ("status", "sequence", "orientation", "contrast", "flags"))
    assert set(row) <= set(annotation_columns(SEQUENCES))


def test_row_of_a_series_not_classified(series):
    row = annotation_row(series.row(), not_classified("modality CT: not an MR series", "AX"), "v1")
    assert (row["status"], row["sequence"], row["contrast"], row["confidence"]) == ("skipped", "", "na", None)
    assert not {"orientation_source", "cnn_sequence", "anatomy", "p_T1"} & set(row)


def test_columns_put_the_decision_before_the_scan_header():
    cols = annotation_columns(["T1", "T2"])
    i = cols.index("format")
    assert cols[:5] == ["path", "series_uid", "sub_series", "status", "reason"]
    assert cols[i - len(ANNOTATION_COLUMNS) : i] == ANNOTATION_COLUMNS and cols[-2:] == ["p_T1", "p_T2"]
    assert len(cols) == len(set(cols)) == len(set(SCAN_COLUMNS) | set(ANNOTATION_COLUMNS)) + 2


def test_one_series_key_for_series_index_and_reports(series):
    import radclass.outputs.sqlite_index as sqlite_index

    assert sqlite_index.series_key is series_key
    pytest.importorskip("highdicom")
    import radclass.integration.sr as sr

    assert sr.series_key is series_key
    assert series.key == series_key(series.series_uid, series.sub_series) == f"{series.series_uid}#{series.sub_series}"
    assert series_key("1.2", "echo2") == "1.2#echo2" and series_key("1.2", 3) == "1.2#3"
    for missing in (None, "", math.nan, np.float32("nan"), pd.NA):
        assert series_key("1.2", missing) == "1.2" and series_key(missing) == ""
        assert is_missing(missing) and as_text(missing) == ""


def test_non_brain_outcome_withholds_and_explains():
    spine = AnatomyDecision(Anatomy.SPINE, AnatomySource.RULES, "series description 'sag t2' names SPINE")
    status, reason, flags = non_brain_outcome(
        spine, Status.ERROR, "nothing to classify", (Flag.NO_USABLE_PIXELS, Flag.HEADER_UNINFORMATIVE)
    )
    assert status is Status.UNKNOWN and flags == (Flag.HEADER_UNINFORMATIVE, Flag.NON_BRAIN)
    assert reason.startswith("non-brain series (SPINE, from rules)") and "no acquisition physics" in reason
    _, reason, _ = non_brain_outcome(spine, Status.UNKNOWN, "confidence 0.10 below 0.20 (best: T2)", ())
    assert reason.endswith("; header physics: confidence 0.10 below 0.20 (best: T2)")
    assert non_brain_outcome(BRAIN, Status.OK, "", (Flag.MOSAIC,)) == (Status.OK, "", (Flag.MOSAIC,))
