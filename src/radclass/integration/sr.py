"""DICOM Structured Report (TID 1500 Measurement Report) carrying radclass labels for one series.

The report is a highdicom :class:`~highdicom.sr.Comprehensive3DSR` in the source study. Its single
measurement group (TID 1501) names the algorithm (AlgorithmIdentification: radclass + model version),
references the source series (evidence + image library), and holds:

* qualitative evaluations: pulse-sequence class, acquisition plane, contrast phase, annotation status;
* a numeric measurement: the confidence (DCM 122157 "Probability", unit ``1``).

Standard codes are used where one exists: the planes of CID 6312 *Cross-sectional Scan Plane Orientation*
(SCT Axial/Coronal/Sagittal/Oblique), SCT Yes/No for the contrast, and for the sequence classes the DCM codes of
CID 7180 *Abstract Multi-dimensional Image Model Component Semantics* (T1/T2/PD/T2* weighted MR signal
intensity, diffusion weighted, ADC, perfusion, field map, blood oxygenation level) and DCM 121311 *Localizer*.
Everything no standard names (T1C, FLAIR, SWI, DTI_MAP, MRA, OTHER, UNKNOWN, the concept names of the sequence
and status items, the contrast phases none/na) uses the private coding scheme :data:`SCHEME` (``99RADCLASS``),
declared in the report's CodingSchemeIdentificationSequence. ``docs/integration.md`` lists the whole scheme.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import highdicom as hd
import pydicom
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

import radclass
from radclass.integration.sanitize import SanitizeReport, sanitize
from radclass.io.series import series_key
from radclass.values import as_number, as_text

log = logging.getLogger(__name__)
SCHEME = "99RADCLASS"
SERIES_NUMBER = 9901
MANUFACTURER = "radclass"


def private(value: str, meaning: str) -> hd.sr.CodedConcept:
    """A concept of the private radclass coding scheme."""
    return hd.sr.CodedConcept(value=value, scheme_designator=SCHEME, meaning=meaning)


#: Concept names of the evaluations.
SEQUENCE_NAME = private("SEQUENCE", "MR pulse-sequence class")
ORIENTATION_NAME = hd.sr.CodedConcept.from_code(codes.DCM.AcquisitionPlane)
CONTRAST_NAME = hd.sr.CodedConcept.from_code(codes.DCM.ContrastAdministered)
STATUS_NAME = private("STATUS", "Annotation status")
CONFIDENCE_NAME = hd.sr.CodedConcept.from_code(codes.DCM.Probability)

_SEQUENCE_MEANING = {
    "T1": "T1 weighted",
    "T1C": "T1 weighted post contrast",
    "T2": "T2 weighted",
    "FLAIR": "FLAIR",
    "PD": "Proton density weighted",
    "T2STAR": "T2* weighted",
    "SWI": "Susceptibility weighted",
    "DWI": "Diffusion weighted",
    "ADC": "Apparent diffusion coefficient map",
    "DTI_MAP": "Diffusion tensor map",
    "PERFUSION": "Perfusion",
    "MRA": "MR angiography",
    "BOLD": "BOLD functional",
    "FIELDMAP": "Field map",
    "SCOUT": "Localizer",
    "OTHER": "Other sequence",
    "UNKNOWN": "Unknown sequence",
}
_ORIENTATION = {
    "AX": hd.sr.CodedConcept.from_code(codes.SCT.Axial),
    "COR": hd.sr.CodedConcept.from_code(codes.SCT.Coronal),
    "SAG": hd.sr.CodedConcept.from_code(codes.SCT.Sagittal),
    "OBL": hd.sr.CodedConcept.from_code(codes.SCT.Oblique),
    "MIXED": hd.sr.CodedConcept.from_code(codes.DCM.MultiplePlanes),
}
_CONTRAST = {
    "post": hd.sr.CodedConcept.from_code(codes.SCT.Yes),
    "pre": hd.sr.CodedConcept.from_code(codes.SCT.No),
    "none": private("CONTRAST_NONE", "No contrast phase (not applicable to this sequence)"),
    "na": private("CONTRAST_NA", "Contrast phase not determined"),
}
_UNKNOWN = hd.sr.CodedConcept.from_code(codes.SCT.Unknown)


#: Sequence classes with a standard code (DCM, CID 7180; SCOUT: DCM 121311 Localizer).
_SEQUENCE_STANDARD = {
    "T1": codes.DCM.T1WeightedMRSignalIntensity,
    "T2": codes.DCM.T2WeightedMRSignalIntensity,
    "PD": codes.DCM.ProtonDensityWeightedMRSignalIntensity,
    "T2STAR": codes.DCM.T2StarWeightedMRSignalIntensity,
    "DWI": codes.DCM.DiffusionWeighted,
    "ADC": codes.DCM.ApparentDiffusionCoefficient,
    "PERFUSION": codes.DCM.Perfusion,
    "FIELDMAP": codes.DCM.FieldMapMRSignalIntensity,
    "BOLD": codes.DCM.BloodOxygenationLevel,
    "SCOUT": codes.DCM.Localizer,
}


def sequence_code(label: str) -> hd.sr.CodedConcept:
    """Coded value of a sequence label: the standard code where one exists, else the private scheme."""
    label = label or "UNKNOWN"
    if label in _SEQUENCE_STANDARD:
        return hd.sr.CodedConcept.from_code(_SEQUENCE_STANDARD[label])
    return private(label, _SEQUENCE_MEANING.get(label, label))


def sequence_label(code: Dataset) -> str:
    """The sequence label a coded value stands for (inverse of :func:`sequence_code`)."""
    for label, standard in _SEQUENCE_STANDARD.items():
        if (standard.value, standard.scheme_designator) == (code.CodeValue, code.CodingSchemeDesignator):
            return label
    return str(code.CodeValue) if code.CodingSchemeDesignator == SCHEME else "UNKNOWN"


def orientation_code(label: str) -> hd.sr.CodedConcept:
    """Coded value of an orientation label (SCT planes of CID 6312, DCM 'Multiple planes', SCT 'Unknown')."""
    return _ORIENTATION.get(label or "", _UNKNOWN)


def contrast_code(label: str) -> hd.sr.CodedConcept:
    """Coded value of a contrast label (SCT Yes/No for post/pre; private for none/na)."""
    return _CONTRAST.get(label or "", _UNKNOWN)


def _text(row: Mapping[str, Any], key: str, default: str = "") -> str:
    """A cell of ``row`` as text, ``default`` when missing (:func:`radclass.values.as_text`)."""
    return as_text(row.get(key)) or default


def _evaluations(row: Mapping[str, Any]) -> list[hd.sr.QualitativeEvaluation]:
    status = _text(row, "status", "ok")
    return [
        hd.sr.QualitativeEvaluation(SEQUENCE_NAME, sequence_code(_text(row, "sequence", "UNKNOWN"))),
        hd.sr.QualitativeEvaluation(ORIENTATION_NAME, orientation_code(_text(row, "orientation"))),
        hd.sr.QualitativeEvaluation(CONTRAST_NAME, contrast_code(_text(row, "contrast"))),
        hd.sr.QualitativeEvaluation(STATUS_NAME, private(status.upper(), f"radclass status {status}")),
    ]


def _algorithm(row: Mapping[str, Any]) -> hd.sr.AlgorithmIdentification:
    version = _text(row, "model_version") or radclass.__version__
    return hd.sr.AlgorithmIdentification(
        name="radclass",
        version=version,
        parameters=[f"radclass {radclass.__version__}", f"flags={_text(row, 'flags')}"],
    )


def _source_image(ds: Dataset) -> hd.sr.SourceImageForMeasurementGroup:
    return hd.sr.SourceImageForMeasurementGroup(
        referenced_sop_class_uid=ds.SOPClassUID,
        referenced_sop_instance_uid=ds.SOPInstanceUID,
    )


def build_sr(
    row: Mapping[str, Any], sources: Sequence[Dataset], *, series_uid: str | None = None, sop_uid: str | None = None
) -> tuple[hd.sr.Comprehensive3DSR, SanitizeReport]:
    """The structured report for one annotation row and what :func:`~radclass.integration.sanitize.sanitize`
    corrected in the headers of ``sources`` (the series' instances; headers do) on the way in."""
    if not sources:
        raise ValueError("A structured report needs at least one source instance.")
    sources, corrections = sanitize(sources)
    if not sources:
        raise ValueError(
            "No source instance has valid identifying UIDs, so the report could reference none: "
            + "; ".join(f"{k} {a.value} ({r})" for k, a, r, _, _ in corrections.summary())
        )
    key = series_key(row.get("series_uid"), row.get("sub_series"))
    algorithm = _algorithm(row)
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=f"radclass series {key}"),
        algorithm_id=algorithm,
        method=hd.sr.CodedConcept.from_code(codes.DCM.ArtificialIntelligence),
        source_images=[_source_image(sources[len(sources) // 2])],
        qualitative_evaluations=_evaluations(row),
        measurements=_confidence(row, algorithm),
    )
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(),
            name="radclass",
            manufacturer_name=MANUFACTURER,
            model_name=_text(row, "model_version") or radclass.__version__,
        ),
    )
    report = _report(observer, group, sources)
    sr = hd.sr.Comprehensive3DSR(
        evidence=list(sources),
        content=report,
        series_instance_uid=series_uid or hd.UID(),
        series_number=SERIES_NUMBER,
        sop_instance_uid=sop_uid or hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        series_description="radclass sequence annotation",
    )
    _declare_private_scheme(sr)
    return sr, corrections


def _report(
    observer: hd.sr.ObserverContext, group: hd.sr.MeasurementsAndQualitativeEvaluations, sources: Sequence[Dataset]
) -> hd.sr.MeasurementReport:
    """TID 1500 report; the image library lists the sources when their headers allow it (the evidence
    sequence of the SR document references them in any case)."""
    kwargs: dict[str, Any] = {
        "observation_context": hd.sr.ObservationContext(observer_device_context=observer),
        "procedure_reported": hd.sr.CodedConcept("113091000", "SCT", "Magnetic resonance imaging"),
        "imaging_measurements": [group],
    }
    try:
        return hd.sr.MeasurementReport(**kwargs, referenced_images=list(sources))
    except (AttributeError, ValueError, TypeError):  # e.g. no SliceThickness for the library descriptors
        return hd.sr.MeasurementReport(**kwargs)


def _confidence(row: Mapping[str, Any], algorithm: hd.sr.AlgorithmIdentification) -> list[hd.sr.Measurement]:
    value = as_number(row.get("confidence"))
    if value is None:
        return []
    return [
        hd.sr.Measurement(
            name=CONFIDENCE_NAME,
            value=round(value, 4),
            unit=hd.sr.CodedConcept("1", "UCUM", "no units"),
            algorithm_id=algorithm,
        )
    ]


def _declare_private_scheme(sr: Dataset) -> None:
    item = Dataset()
    item.CodingSchemeDesignator = SCHEME
    item.CodingSchemeName = "radclass MRI series annotation codes"
    item.CodingSchemeResponsibleOrganization = "radclass project"
    sr.CodingSchemeIdentificationSequence = [item]


def read_sources(files: Sequence[Path]) -> list[Dataset]:
    """Headers (no pixel data) of the source instances, unreadable files left out (values as stored: the
    sanitiser checks them when the report is built)."""
    out: list[Dataset] = []
    for f in files:
        try:
            out.append(pydicom.dcmread(f, stop_before_pixels=True))
        except Exception:  # a malformed instance must not stop the report
            continue
    return out


def write_sr(row: Mapping[str, Any], files: Sequence[Path], out_path: Path) -> SanitizeReport:
    """Build the report for ``row`` from its source ``files``, save it (atomically) to ``out_path`` and return
    what the sanitiser corrected in the source headers (each correction is also logged as a warning)."""
    with warnings.catch_warnings():  # highdicom warns about odd source headers (single-component names...)
        warnings.simplefilter("ignore", UserWarning)
        sr, corrections = build_sr(row, read_sources(files))
    corrections.log(log, f"series {_text(row, 'series_uid')}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    sr.save_as(tmp, enforce_file_format=True)
    tmp.replace(out_path)
    return corrections


def read_labels(path: Path) -> dict[str, Any]:
    """The labels a radclass report carries: sequence, orientation, contrast, status, confidence, algorithm."""
    sr = hd.sr.srread(path)
    labels: dict[str, Any] = {}
    for item in _walk(sr.ContentSequence):
        name = item.ConceptNameCodeSequence[0]
        if item.ValueType == "CODE":
            value = item.ConceptCodeSequence[0]
            if (name.CodingSchemeDesignator, name.CodeValue) == (SCHEME, "SEQUENCE"):
                labels["sequence"] = sequence_label(value)
            elif name.CodeValue == ORIENTATION_NAME.value:
                labels["orientation"] = _reverse(_ORIENTATION, value, "UNKNOWN")
            elif name.CodeValue == CONTRAST_NAME.value:
                labels["contrast"] = _reverse(_CONTRAST, value, "UNKNOWN")
            elif (name.CodingSchemeDesignator, name.CodeValue) == (SCHEME, "STATUS"):
                labels["status"] = value.CodeValue.lower()
        elif item.ValueType == "NUM" and name.CodeValue == CONFIDENCE_NAME.value:
            labels["confidence"] = float(item.MeasuredValueSequence[0].NumericValue)
        elif item.ValueType == "TEXT" and name.CodeValue == codes.DCM.AlgorithmName.value:
            labels["algorithm"] = item.TextValue
        elif item.ValueType == "TEXT" and name.CodeValue == codes.DCM.AlgorithmVersion.value:
            labels["algorithm_version"] = item.TextValue
    return labels


def _reverse(table: Mapping[str, hd.sr.CodedConcept], value: Dataset, default: str) -> str:
    for label, code in table.items():
        if (code.value, code.scheme_designator) == (value.CodeValue, value.CodingSchemeDesignator):
            return label
    return default


def _walk(seq: Sequence[Dataset]):
    for item in seq:
        yield item
        if "ContentSequence" in item:
            yield from _walk(item.ContentSequence)
