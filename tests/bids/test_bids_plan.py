"""radclass.outputs.bids.plan: units, sessions, collision-free names and the ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from radclass.outputs.bids.naming import Suffix, target_for
from radclass.outputs.bids.plan import (
    Image,
    ParticipantMap,
    Unit,
    assign_sessions,
    build_units,
    name_images,
    read_ledger,
    write_ledger,
)


def _row(path: str, uid: str, seq: str = "T1", **kw) -> dict:
    return {"path": path, "series_uid": uid, "status": "ok", "sequence": seq, "contrast": "pre", "format": "dicom",
            "files": f"{path}/1.dcm;{path}/2.dcm", "n_files": 2, "study_uid": "9.9", **kw}


def _image(key: str, seq: str = "T1", *, plane: str = "AX", acq: str = "2D", number: int = 1,
           direction: str = "", suffix: Suffix | None = None) -> Image:
    target = target_for(seq)
    unit = Unit(key, "dicom", [], [_row(f"/a/{key}", key, seq, orientation=plane, acquisition=acq,
                                        series_number=number)], target, participant="01", session="x")
    return Image(unit, "", {}, {}, suffix or target.suffix, {}, direction=direction)


def test_build_units_groups_subseries_and_skips_what_bids_cannot_hold() -> None:
    rows = [
        {**_row("/a/dwi", "1.1", "DWI"), "sub_series": "b0"},
        {**_row("/a/dwi", "1.1", "DWI"), "sub_series": "b1000", "n_files": 5},
        _row("/a/loc", "1.2", "SCOUT"),
        _row("/a/t1", "1.3"),
        _row("/b/t1", "1.3"),  # the same SeriesInstanceUID in another folder: a copy
        {**_row("/a/ct", "1.4", ""), "status": "skipped", "reason": "modality CT: not an MR series"},
        {"path": "/a/sr.dcm", "series_uid": "", "status": "skipped", "reason": "DICOM without pixel data",
         "files": "/a/sr.dcm"},
    ]
    units, skipped = build_units(rows)
    assert [(u.key, len(u.rows), len(u.files)) for u in units] == [("1.1", 2, 4), ("1.3", 1, 2)]
    reasons = {s.source: s.reason for s in skipped}
    assert "localizer" in reasons["/a/loc"]
    assert "second copy of series 1.3" in reasons["/b/t1"]
    assert "modality CT" in reasons["/a/ct"] and "without pixel data" in reasons["/a/sr.dcm"]
    assert len(units) + len(skipped) == len(rows) - 1  # the two DWI parts are one unit


def test_unique_names_need_no_entities() -> None:
    images = [_image("1", "T1"), _image("2", "T2"), _image("3", "FLAIR")]
    name_images(images, set())
    assert [im.stem for im in images] == ["sub-01_ses-x_T1w", "sub-01_ses-x_T2w", "sub-01_ses-x_FLAIR"]


def test_collisions_get_dir_then_acq_then_run() -> None:
    dwi = [_image("1", "DWI", direction="AP"), _image("2", "DWI", direction="PA")]
    t1 = [_image("3", plane="SAG", acq="3D", number=3), _image("4", plane="AX", acq="2D", number=4),
          _image("5", plane="AX", acq="2D", number=5)]
    t2 = [_image("6", "T2", acq="2D"), _image("7", "T2", acq="3D")]
    name_images(dwi + t1 + t2, set())
    assert [im.stem for im in dwi] == ["sub-01_ses-x_dir-AP_dwi", "sub-01_ses-x_dir-PA_dwi"]
    # the plane tells the sagittal one apart; the two axial 2D ones differ in nothing radclass knows: run-
    assert [im.stem for im in t1] == ["sub-01_ses-x_acq-sag_T1w", "sub-01_ses-x_acq-ax_run-1_T1w",
                                      "sub-01_ses-x_acq-ax_run-2_T1w"]
    assert [im.stem for im in t2] == ["sub-01_ses-x_acq-2d_T2w", "sub-01_ses-x_acq-3d_T2w"]


def test_fieldmaps_never_get_dir() -> None:
    images = [_image("1", "FIELDMAP", direction="AP", suffix=Suffix.PHASEDIFF),
              _image("2", "FIELDMAP", direction="PA", suffix=Suffix.PHASEDIFF)]
    name_images(images, set())
    assert [im.stem for im in images] == ["sub-01_ses-x_run-1_phasediff", "sub-01_ses-x_run-2_phasediff"]


def test_names_in_the_ledger_are_never_taken_over() -> None:
    new = _image("7")
    name_images([new], {"sub-01/ses-x/anat/sub-01_ses-x_T1w", "sub-01/ses-x/anat/sub-01_ses-x_run-2_T1w"})
    assert new.relpath() == "sub-01/ses-x/anat/sub-01_ses-x_run-3_T1w"


def test_sessions_from_the_dicom_header(data_root: Path) -> None:
    """PatientID/StudyDate of real files; two studies of one participant on one date are told apart."""
    folder = data_root / "mri" / "dicom" / "dcm_qa_xa30"
    a = Unit("a", "dicom", [str(next((folder / "5_anat-T1w_acq-tfl").iterdir()))],
             [_row("a", "a", study_uid="s1")], target_for("T1"))
    b = Unit("b", "dicom", [str(next((folder / "6_anat-T1w_acq-tfl").iterdir()))],
             [_row("b", "b", study_uid="s2")], target_for("T1"))
    assign_sessions([a, b], ParticipantMap(), {})
    assert a.participant == b.participant == "12343hucheng"
    assert a.session == "20220711" and b.session.startswith("20220711") and b.session != a.session
    c = Unit("c", "dicom", a.files, [_row("c", "c", study_uid="s1")], target_for("T1"))
    assign_sessions([c], ParticipantMap(participants={"12343@hucheng": "p7"}), {})
    assert (c.participant, c.session) == ("p7", "20220711")
    d = Unit("d", "dicom", a.files, [_row("d", "d", study_uid="s1")], target_for("T1"))
    assign_sessions([d], ParticipantMap(), {"s1": ("old", "one")})
    assert (d.participant, d.session) == ("old", "one")


def test_participant_map(tmp_path: Path) -> None:
    good = tmp_path / "p.tsv"
    good.write_text("patient_id\tparticipant_id\tstudy_uid\tsession_id\tage\nP1\tsub-01\t1.2\tses-pre\t42\n")
    m = ParticipantMap.load(good)
    assert (m.participants, m.sessions, m.columns) == ({"P1": "01"}, {"1.2": "pre"}, {"01": {"age": "42"}})
    bad = tmp_path / "bad.csv"
    bad.write_text("id,participant_id\nP1,01\n")
    with pytest.raises(ValueError, match="needs the columns patient_id and participant_id"):
        ParticipantMap.load(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("patient_id,participant_id\nP1,--\n")
    with pytest.raises(ValueError, match="line 2"):
        ParticipantMap.load(empty)


def test_ledger_round_trip(tmp_path: Path) -> None:
    rows = [{"key": "1.2_e1", "unit": "1.2", "status": "converted", "bids_path": "sub-1/anat/sub-1_T1w",
             "reason": "", "source": "/a\tb"}]
    write_ledger(tmp_path, rows)
    back = read_ledger(tmp_path)
    assert back[0]["key"] == "1.2_e1" and back[0]["source"] == "/a b" and back[0]["participant"] == ""
    assert read_ledger(tmp_path / "nothing") == []
