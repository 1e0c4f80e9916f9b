"""Read one DICOM file's header (never its pixels) into a small, picklable :class:`InstanceInfo`.

Classic and enhanced (multi-frame) MR are read into the same fields: enhanced MR attributes from the
shared and per-frame functional groups are mapped onto their classic equivalents (for example
EchoPulseSequence/EchoPlanarPulseSequence/InversionRecovery onto ScanningSequence tokens), so the
header model sees one vocabulary whatever the storage flavour.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import Tag

_PIXEL_TAGS = (Tag(0x7FE0, 0x0010), Tag(0x7FE0, 0x0008), Tag(0x7FE0, 0x0009))
_UNDEFINED_LENGTH = 0xFFFFFFFF

# Non-image objects named for people, by SOP Class UID prefix.
_NON_IMAGE_KINDS = (
    ("1.2.840.10008.5.1.4.1.1.88.", "SR document"),
    ("1.2.840.10008.5.1.4.1.1.11.", "presentation state"),
    ("1.2.840.10008.5.1.4.1.1.66", "raw data"),
    ("1.2.840.10008.5.1.4.1.1.104.", "encapsulated document"),
    ("1.2.840.10008.5.1.4.1.1.4.2", "MR spectroscopy"),
    ("1.3.12.2.1107.5.9.1", "Siemens CSA non-image"),
    ("1.2.840.10008.5.1.4.1.1.481.", "RT object"),
    ("1.2.840.10008.5.1.4.1.1.9.", "waveform"),
)


@dataclass
class InstanceInfo:
    """Header facts of one DICOM instance that the series grouping and the header model need."""

    path: str
    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    study_uid: str = ""
    series_uid: str = ""
    modality: str = ""
    manufacturer: str = ""
    model: str = ""
    field_strength: float | None = None
    series_description: str = ""
    protocol_name: str = ""
    series_number: int | None = None
    instance_number: int | None = None
    image_type: tuple[str, ...] = ()
    frame_type: tuple[str, ...] = ()
    acquisition_contrast: str = ""
    scanning_sequence: tuple[str, ...] = ()
    sequence_variant: tuple[str, ...] = ()
    scan_options: tuple[str, ...] = ()
    sequence_name: str = ""
    mr_acquisition_type: str = ""
    repetition_time: float | None = None
    echo_time: float | None = None
    inversion_time: float | None = None
    echo_train_length: float | None = None
    flip_angle: float | None = None
    echo_number: int | None = None
    b_values: tuple[float, ...] = ()
    pixel_spacing: tuple[float, float] | None = None
    slice_thickness: float | None = None
    rows: int | None = None
    columns: int | None = None
    n_frames: int = 1
    mosaic_images: int | None = None
    photometric: str = ""
    contrast_agent: str = ""
    temporal_positions: int | None = None
    orientations: tuple[tuple[float, ...], ...] = ()  # one IOP (6 cosines) per distinct plane
    position: tuple[float, float, float] | None = None
    transfer_syntax: str = ""
    has_pixels: bool = False
    is_image: bool = True
    non_image_kind: str = ""
    pixel_issue: str = ""  # why the pixels cannot be used although present
    extra: dict[str, Any] = field(default_factory=dict)


class DicomReadError(Exception):
    """A file that looks like DICOM but cannot be parsed; the message is a reason for a person."""


def read_instance(path: str | Path) -> InstanceInfo:
    """Parse the header of ``path``; pixel data is located but never loaded.

    Raises :class:`DicomReadError` with a readable reason when the file cannot be used at all.
    """
    path = str(path)
    try:
        size = os.path.getsize(path)
        ds = pydicom.dcmread(path, defer_size=512, force=True)
    except PermissionError:
        raise DicomReadError("permission denied (file unreadable)") from None
    except InvalidDicomError as err:
        raise DicomReadError(f"not a valid DICOM file ({err})") from None
    except (EOFError, OSError, ValueError, KeyError, TypeError, IndexError, OverflowError) as err:
        raise DicomReadError(f"corrupt or truncated DICOM header ({type(err).__name__}: {err})") from None
    try:
        return _instance_from_dataset(path, ds, size)
    except DicomReadError:
        raise
    except Exception as err:  # malformed values deep inside the header
        raise DicomReadError(f"malformed DICOM header ({type(err).__name__}: {err})") from None


def _instance_from_dataset(path: str, ds: Dataset, size: int) -> InstanceInfo:
    if len(ds) == 0 or ("SOPClassUID" not in ds and "SeriesInstanceUID" not in ds and "Rows" not in ds):
        raise DicomReadError("DICOM preamble but no usable data elements (garbage content)")
    info = InstanceInfo(path=path)
    info.sop_class_uid = _str(ds, "SOPClassUID")
    info.sop_instance_uid = _str(ds, "SOPInstanceUID")
    info.study_uid = _str(ds, "StudyInstanceUID")
    info.series_uid = _str(ds, "SeriesInstanceUID")
    info.modality = _str(ds, "Modality")
    info.manufacturer = _str(ds, "Manufacturer")
    info.model = _str(ds, "ManufacturerModelName")
    info.field_strength = _float(ds, "MagneticFieldStrength")
    info.series_description = _str(ds, "SeriesDescription")
    info.protocol_name = _str(ds, "ProtocolName")
    info.series_number = _int(ds, "SeriesNumber")
    info.instance_number = _int(ds, "InstanceNumber")
    info.image_type = _multi(ds, "ImageType")
    info.scanning_sequence = _multi(ds, "ScanningSequence")
    info.sequence_variant = _multi(ds, "SequenceVariant")
    info.scan_options = _multi(ds, "ScanOptions")
    info.sequence_name = _str(ds, "SequenceName") or _str(ds, "PulseSequenceName")
    info.mr_acquisition_type = _str(ds, "MRAcquisitionType")
    info.repetition_time = _float(ds, "RepetitionTime")
    info.echo_time = _float(ds, "EchoTime")
    info.inversion_time = _float(ds, "InversionTime")
    info.echo_train_length = _float(ds, "EchoTrainLength")
    info.flip_angle = _float(ds, "FlipAngle")
    info.echo_number = _int(ds, "EchoNumbers")
    info.pixel_spacing = _pair(ds, "PixelSpacing")
    info.slice_thickness = _float(ds, "SliceThickness")
    info.rows = _int(ds, "Rows")
    info.columns = _int(ds, "Columns")
    info.n_frames = _int(ds, "NumberOfFrames") or 1
    info.photometric = _str(ds, "PhotometricInterpretation")
    info.temporal_positions = _int(ds, "NumberOfTemporalPositions")
    info.contrast_agent = _contrast_agent(ds)
    iop = _floats(ds, "ImageOrientationPatient", 6)
    info.orientations = (iop,) if iop else ()
    ipp = _floats(ds, "ImagePositionPatient", 3)
    info.position = ipp if ipp else None
    meta = getattr(ds, "file_meta", None)
    info.transfer_syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    b = _b_value(ds, info.manufacturer)
    info.b_values = (b,) if b is not None else ()
    if "ImageType" in ds and "MOSAIC" in info.image_type:
        info.mosaic_images = _siemens_mosaic_count(ds)
    if "SharedFunctionalGroupsSequence" in ds or "PerFrameFunctionalGroupsSequence" in ds:
        _read_enhanced(ds, info)
    _locate_pixels(ds, info, size)
    return info


# --- enhanced (multi-frame) MR -------------------------------------------------------------------


def _read_enhanced(ds: Dataset, info: InstanceInfo) -> None:
    """Fill classic fields from the functional groups of an enhanced MR object."""
    shared = ds.SharedFunctionalGroupsSequence[0] if ds.get("SharedFunctionalGroupsSequence") else Dataset()
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    groups = [shared, *per_frame[:1]]  # frame-invariant facts: shared + first frame

    def first(seq_kw: str, kw: str) -> Any:
        for g in groups:
            seq = g.get(seq_kw)
            if seq and kw in seq[0] and seq[0].get(kw) not in (None, ""):
                return seq[0].get(kw)
        return None

    ft = first("MRImageFrameTypeSequence", "FrameType")
    if ft:
        info.frame_type = tuple(str(v) for v in _as_list(ft))
    info.acquisition_contrast = str(first("MRImageFrameTypeSequence", "AcquisitionContrast") or "")
    info.repetition_time = info.repetition_time or _num(first("MRTimingAndRelatedParametersSequence", "RepetitionTime"))
    info.flip_angle = info.flip_angle or _num(first("MRTimingAndRelatedParametersSequence", "FlipAngle"))
    info.echo_train_length = info.echo_train_length or _num(first("MRTimingAndRelatedParametersSequence", "EchoTrainLength"))
    info.echo_time = info.echo_time or _num(first("MREchoSequence", "EffectiveEchoTime"))
    ti = first("MRModifierSequence", "InversionTimes")
    if info.inversion_time is None and ti is not None:
        info.inversion_time = _num(_as_list(ti)[0])
    if not info.pixel_spacing:
        ps = first("PixelMeasuresSequence", "PixelSpacing")
        info.pixel_spacing = (float(ps[0]), float(ps[1])) if ps else None
    info.slice_thickness = info.slice_thickness or _num(first("PixelMeasuresSequence", "SliceThickness"))
    if not info.scanning_sequence:
        info.scanning_sequence = _enhanced_scanning_sequence(ds, groups)
    if not info.contrast_agent:
        agent = first("ContrastBolusUsageSequence", "ContrastBolusAgentNumber")
        info.contrast_agent = "yes" if agent else ""
    # Planes, positions and b-values vary per frame: collect the distinct ones.
    planes: list[tuple[float, ...]] = []
    b_values: set[float] = set(info.b_values)
    for g in [shared, *per_frame]:
        po = g.get("PlaneOrientationSequence")
        if po and "ImageOrientationPatient" in po[0]:
            iop = tuple(round(float(v), 4) for v in po[0].ImageOrientationPatient)
            if iop not in planes:
                planes.append(iop)
        dif = g.get("MRDiffusionSequence")
        if dif and dif[0].get("DiffusionBValue") is not None:
            b_values.add(float(dif[0].DiffusionBValue))
        if info.position is None:
            pp = g.get("PlanePositionSequence")
            if pp and "ImagePositionPatient" in pp[0]:
                info.position = tuple(float(v) for v in pp[0].ImagePositionPatient)  # type: ignore[assignment]
    if planes:
        info.orientations = tuple(planes)
    info.b_values = tuple(sorted(b_values))


def _enhanced_scanning_sequence(ds: Dataset, groups: list[Dataset]) -> tuple[str, ...]:
    tokens: list[str] = []
    echo = _str(ds, "EchoPulseSequence")
    if echo in ("SPIN", "BOTH"):
        tokens.append("SE")
    if echo in ("GRADIENT", "BOTH"):
        tokens.append("GR")
    for g in groups:
        mod = g.get("MRModifierSequence")
        if mod and str(mod[0].get("InversionRecovery", "")) == "YES":
            tokens.append("IR")
            break
    if _str(ds, "EchoPlanarPulseSequence") == "YES":
        tokens.append("EP")
    return tuple(tokens)


# --- pixels ----------------------------------------------------------------------------------------


def _locate_pixels(ds: Dataset, info: InstanceInfo, size: int) -> None:
    """Find the pixel data element without loading it; flag truncation and size mismatches."""
    elem = None
    for tag in _PIXEL_TAGS:
        if tag in ds._dict:  # raw access: does not trigger loading of a deferred value
            elem = ds._dict[tag]
            break
    image_like = info.rows is not None or "Image Storage" in _uid_name(info.sop_class_uid)
    if elem is None:
        info.has_pixels = False
        info.is_image = image_like and not _non_image_kind(info.sop_class_uid)
        if not info.is_image:
            info.non_image_kind = _non_image_kind(info.sop_class_uid) or _uid_name(info.sop_class_uid) or "no image"
        return
    info.is_image = True
    info.has_pixels = True
    length = getattr(elem, "length", None)
    tell = getattr(elem, "value_tell", None)
    if length is not None and length != _UNDEFINED_LENGTH and tell is not None and tell + length > size:
        info.has_pixels = False
        info.pixel_issue = f"truncated at byte {size} (pixel data needs {tell + length})"
        return
    if length in (None, _UNDEFINED_LENGTH) or not info.rows or not info.columns:
        return  # encapsulated (compressed) or incomplete: checked when decoded
    ts = pydicom.uid.UID(info.transfer_syntax) if info.transfer_syntax else None
    if ts is not None and ts.is_compressed:
        return
    bits = _int(ds, "BitsAllocated") or 16
    spp = _int(ds, "SamplesPerPixel") or 1
    expected = info.rows * info.columns * spp * info.n_frames * bits // 8
    if length + 1 < expected:
        info.pixel_issue = f"pixel data has {length} bytes, Rows x Columns x frames needs {expected}"


def _non_image_kind(sop_class_uid: str) -> str:
    for prefix, name in _NON_IMAGE_KINDS:
        if sop_class_uid.startswith(prefix):
            return name
    return ""


def _uid_name(uid: str) -> str:
    try:
        return pydicom.uid.UID(uid).name if uid else ""
    except Exception:
        return ""


# --- vendor specifics --------------------------------------------------------------------------------


def _b_value(ds: Dataset, manufacturer: str) -> float | None:
    """Diffusion b-value from the standard tag or the vendor's private one."""
    candidates = [Tag(0x0018, 0x9087)]
    vendor = manufacturer.upper()
    if "SIEMENS" in vendor:
        candidates.append(Tag(0x0019, 0x100C))
    elif "GE" in vendor:
        candidates.append(Tag(0x0043, 0x1039))
    elif "PHILIPS" in vendor:
        candidates.append(Tag(0x2001, 0x1003))
    for tag in candidates:
        if tag in ds:
            try:
                value = ds[tag].value
                value = _as_list(value)[0] if not isinstance(value, bytes) else None
                b = float(value) if value is not None else None
            except (TypeError, ValueError, IndexError):
                continue
            if b is None:
                continue
            if tag == Tag(0x0043, 0x1039) and b >= 1e9:  # GE adds 1e9 flags to the b-value
                b = b % 1e9
            if 0 <= b < 1e5:
                return round(b, 1)
    return None


def _siemens_mosaic_count(ds: Dataset) -> int | None:
    tag = Tag(0x0019, 0x100A)
    if tag in ds:
        try:
            return int(ds[tag].value)
        except (TypeError, ValueError):
            return None
    return None


def _contrast_agent(ds: Dataset) -> str:
    for kw in ("ContrastBolusAgent", "ContrastBolusIngredient", "ContrastBolusRoute"):
        v = _str(ds, kw)
        if v:
            return v
    for kw in ("ContrastBolusVolume", "ContrastBolusTotalDose", "ContrastBolusIngredientConcentration"):
        v = _float(ds, kw)
        if v:
            return f"{kw}={v}"
    return ""


# --- value helpers -----------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]


def _str(ds: Dataset, kw: str) -> str:
    try:
        v = ds.get(kw)
    except Exception:
        return ""
    if v is None:
        return ""
    if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
        return "\\".join(str(x) for x in v)
    return str(v).strip()


def _multi(ds: Dataset, kw: str) -> tuple[str, ...]:
    try:
        v = ds.get(kw)
    except Exception:
        return ()
    return tuple(str(x).strip().upper() for x in _as_list(v) if str(x).strip())


def _num(v: Any) -> float | None:
    try:
        if v is None or v == "":
            return None
        return float(_as_list(v)[0])
    except (TypeError, ValueError, IndexError):
        return None


def _float(ds: Dataset, kw: str) -> float | None:
    try:
        return _num(ds.get(kw))
    except Exception:
        return None


def _int(ds: Dataset, kw: str) -> int | None:
    f = _float(ds, kw)
    return int(f) if f is not None else None


def _floats(ds: Dataset, kw: str, n: int) -> tuple[float, ...]:
    try:
        v = [float(x) for x in _as_list(ds.get(kw))]
    except (TypeError, ValueError):
        return ()
    return tuple(round(x, 4) for x in v) if len(v) == n else ()


def _pair(ds: Dataset, kw: str) -> tuple[float, float] | None:
    v = _floats(ds, kw, 2)
    return (v[0], v[1]) if v else None
