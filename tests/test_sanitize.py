"""The source-header sanitiser (``radclass.integration.sanitize``): valid values pass unchanged, invalid ones are
corrected, emptied (Type 2) or dropped, each with a correction naming the attribute.

Headers are real pool instances with one attribute overwritten by raw bytes, as a damaged archive holds them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pydicom
import pytest

from radclass.integration.sanitize import UTF8, Action, Correction, SanitizeReport, sanitize
from test_listen_helpers import BAD_HEADER, corrupt_copies, series_files

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _clean_one(tmp_path: Path, changes: dict, name: str = "canon_a"):
    (path,) = corrupt_copies(series_files(name)[:1], tmp_path, changes)
    (out,), report = sanitize([pydicom.dcmread(path, stop_before_pixels=True)])
    return out, report


def _only(report: SanitizeReport, keyword: str) -> Correction:
    found = [c for c in report.corrections if c.keyword == keyword]
    assert len(found) == 1, report.corrections
    return found[0]


def test_a_valid_header_passes_unchanged(tmp_path):
    source = pydicom.dcmread(series_files("toshiba_a")[0], stop_before_pixels=True)
    (out,), report = sanitize([source])
    assert report.corrections == []
    for keyword in ("PatientName", "PatientID", "PatientSex", "StudyDate", "StudyTime", "StudyInstanceUID",
                    "SOPInstanceUID", "Manufacturer", "PixelSpacing", "ImageOrientationPatient", "Rows"):
        assert str(out[keyword].value) == str(source[keyword].value), keyword
    assert "SpecificCharacterSet" not in out  # all ASCII: default repertoire
    assert "PixelData" not in out and "SeriesDescription" not in out  # only what a derived object takes


@pytest.mark.parametrize(("keyword", "vr", "raw", "action", "value"), [
    ("PatientSex", "CS", b"0000", Action.EMPTIED, None),
    ("PatientSex", "CS", b"m", Action.CORRECTED, "M"),
    ("PatientSex", "LO", b"FEMALE", Action.CORRECTED, "F"),  # wrong VR, unambiguous value
    ("PatientBirthDate", "DA", b"1961.02.30", Action.EMPTIED, None),
    ("StudyDate", "DA", b"2006.03.14", Action.CORRECTED, "20060314"),
    ("StudyDate", "DA", b"20061345", Action.EMPTIED, None),
    ("StudyTime", "TM", b"09:11:56", Action.CORRECTED, "091156"),
    ("StudyTime", "TM", b"25", Action.EMPTIED, None),
    ("PatientAge", "AS", b"0Y", Action.CORRECTED, "000Y"),
    ("PatientAge", "LO", b"45 years", Action.DROPPED, None),
    ("StudyDescription", "LO", b"BRAIN ROUTINE " * 8, Action.CORRECTED, ("BRAIN ROUTINE " * 5)[:64].rstrip()),
    ("AccessionNumber", "SH", b"ACC-2006-0001-XYZ-42", Action.EMPTIED, None),  # an identifier is never cut
    ("PatientWeight", "DS", b"72.123456789012345", Action.CORRECTED, "72.1234567890124"),
    ("PatientWeight", "DS", b"heavy", Action.DROPPED, None),
    ("PatientSize", "DS", b"1.80\\1.81", Action.DROPPED, None),  # VM 1
    ("InstitutionName", "LO", b"Klinik\x00\x01 Nord", Action.CORRECTED, "Klinik Nord"),
    ("PregnancyStatus", "US", b"\x00\x00", Action.DROPPED, None),
    ("FrameOfReferenceUID", "UI", b"1.2.03.4", Action.DROPPED, None),  # leading zero
])
def test_invalid_values(tmp_path, keyword, vr, raw, action, value):
    out, report = _clean_one(tmp_path, {keyword: (vr, raw)})
    correction = _only(report, keyword)
    assert correction.action is action and correction.reason
    if action is Action.DROPPED:
        assert keyword not in out
    else:
        assert out[keyword].VR == pydicom.datadict.dictionary_VR(out[keyword].tag)  # the dictionary VR
        assert (out[keyword].value or None) == value


def test_latin1_bytes_under_a_utf8_declaration(tmp_path):
    out, report = _clean_one(tmp_path, {"SpecificCharacterSet": ("CS", b"ISO_IR 192"),
                                        "PatientName": ("PN", "Müller^Jörg".encode("latin-1"))})
    assert str(out.PatientName) == "Müller^Jörg" and out.SpecificCharacterSet == UTF8
    assert "declared character set" in _only(report, "PatientName").reason


def test_non_ascii_without_character_set_and_japanese_names(tmp_path):
    out, report = _clean_one(tmp_path, {"SpecificCharacterSet": ("CS", None),
                                        "PatientName": ("PN", "Ærø^Åse".encode("latin-1"))})
    assert str(out.PatientName) == "Ærø^Åse" and out.SpecificCharacterSet == UTF8
    assert "without a Specific Character Set" in _only(report, "PatientName").reason
    # a real ISO 2022 IR 87 (Japanese) header decodes as declared, nothing to correct
    hitachi = Path(series_files("canon_a")[0]).parents[2] / "dicom2nifti" / "hitachi_anatomical_001"
    (out,), report = sanitize([pydicom.dcmread(next(hitachi.iterdir()), stop_before_pixels=True)])
    assert not [c for c in report.corrections if c.keyword == "PatientName"]


def test_unknown_character_set_term(tmp_path):
    out, report = _clean_one(tmp_path, {"SpecificCharacterSet": ("CS", b"ISO_IR 999")})
    assert _only(report, "SpecificCharacterSet").action is Action.CORRECTED


def test_instances_with_invalid_uids_are_excluded(tmp_path):
    good = series_files("canon_a")[:2]
    (bad,) = corrupt_copies(series_files("canon_a")[2:3], tmp_path, {"SOPInstanceUID": ("UI", b"1.2.3.abc")})
    clean, report = sanitize([pydicom.dcmread(f, stop_before_pixels=True) for f in (*good, bad)])
    assert len(clean) == 2 and report.n_excluded == 1 and report.n_instances == 3
    assert _only(report, "SOPInstanceUID").action is Action.EXCLUDED


def test_empty_optional_sequence_is_dropped_and_bad_item_drops_the_sequence(tmp_path):
    ds = pydicom.dcmread(series_files("canon_a")[0], stop_before_pixels=True)
    ds.ProcedureCodeSequence = []
    item = pydicom.Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = "1", "99X", "x"
    item.CodingSchemeVersion = "v" * 40  # SH: 16
    ds.ReferencedStudySequence = [pydicom.Dataset()]
    ds.ReferencedStudySequence[0].ReferencedSOPClassUID = "1.2.3.04"
    (out,), report = sanitize([ds])
    assert "ProcedureCodeSequence" not in out and "ReferencedStudySequence" not in out
    assert _only(report, "ReferencedStudySequence").action is Action.DROPPED


def test_report_summary_and_log(tmp_path, caplog):
    files = corrupt_copies(series_files("canon_a")[:3], tmp_path)
    clean, report = sanitize([pydicom.dcmread(f, stop_before_pixels=True) for f in files])
    assert len(clean) == 3
    rows = report.summary()
    assert {r[0] for r in rows} == set(BAD_HEADER) - {"SpecificCharacterSet"}  # valid, but one term
    assert all(n == 3 for *_, n in rows)  # the same damage in each instance, counted once per attribute
    with caplog.at_level(logging.WARNING):
        report.log(logging.getLogger("test"), "series X")
    assert len([r for r in caplog.records if r.name == "test"]) == len(report)
    assert "PatientSex emptied" in caplog.text
    assert "in 3 of 3 instances" in caplog.text


def test_correction_validates():
    with pytest.raises(ValueError, match="attribute"):
        Correction("", Action.DROPPED, "why")
    with pytest.raises(ValueError):
        Correction("PatientSex", "renamed", "why")  # type: ignore[arg-type]
