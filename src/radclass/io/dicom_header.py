"""Read one DICOM file's header (never its pixels) into a small, picklable :class:`InstanceInfo`.

Classic and enhanced (multi-frame) MR are read into the same fields: enhanced MR attributes from the
shared and per-frame functional groups are mapped onto their classic equivalents (for example
EchoPulseSequence/EchoPlanarPulseSequence/InversionRecovery onto ScanningSequence tokens), so the
header model sees one vocabulary whatever the storage flavour.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from pydicom.charset import convert_encodings, default_encoding
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import BaseTag, Tag
from pydicom.values import convert_value

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
    study_description: str = ""
    body_part: str = ""  # BodyPartExamined (0018,0015)
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
        return _read_instance_fast(path)
    except Exception:  # anything the fast reader does not handle plainly: pydicom's reader decides
        pass
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
    info.field_strength = tesla(_float(ds, "MagneticFieldStrength"))
    info.series_description = _str(ds, "SeriesDescription")
    info.protocol_name = _str(ds, "ProtocolName")
    info.study_description = _str(ds, "StudyDescription")
    info.body_part = _str(ds, "BodyPartExamined")
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
    info.position = (ipp[0], ipp[1], ipp[2]) if ipp else None
    meta = getattr(ds, "file_meta", None)
    info.transfer_syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    b = _b_value(ds, info.manufacturer)
    info.b_values = (b,) if b is not None else ()
    if "ImageType" in ds and "MOSAIC" in info.image_type:
        info.mosaic_images = _siemens_mosaic_count(ds)
    if "SharedFunctionalGroupsSequence" in ds or "PerFrameFunctionalGroupsSequence" in ds:
        _read_enhanced(ds, info, getattr(ds, "_later_frames", []))
    _locate_pixels(ds, info, size)
    return info


# --- enhanced (multi-frame) MR -------------------------------------------------------------------


def _read_enhanced(ds: Dataset, info: InstanceInfo, later_frames: list[Any] = ()) -> None:  # type: ignore[assignment]
    """Fill classic fields from the functional groups of an enhanced MR object.

    ``later_frames``: per-frame groups after the ones in ``ds`` (the fast reader keeps only the first frame's
    group in the dataset and passes the others as light items holding just what the loop below reads).
    """
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
    info.echo_train_length = info.echo_train_length or _num(
        first("MRTimingAndRelatedParametersSequence", "EchoTrainLength")
    )
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
    for g in [shared, *per_frame, *later_frames]:
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
    if length is None or length == _UNDEFINED_LENGTH or not info.rows or not info.columns:
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
        amount = _float(ds, kw)
        if amount:
            return f"{kw}={amount}"
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


_GAUSS_PER_TESLA = 10_000.0


def tesla(strength: float | None) -> float | None:
    """MagneticFieldStrength (0018,0087) in tesla.

    PS3.3 C.8.3.1 defines the value in tesla, but old GE (Genesis/Signa) headers store gauss (15000 for 1.5 T);
    no magnet exceeds 100 T, so a larger value is taken as gauss.
    """
    if strength is None or strength <= 100.0:
        return strength
    return round(strength / _GAUSS_PER_TESLA, 4)


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


# --- fast reader ---------------------------------------------------------------------------------------
#
# pydicom builds a Dataset for every item of every undefined-length sequence while it reads a file; an enhanced
# MR object (hundreds of per-frame functional groups) then costs tens of milliseconds, and a classic one about a
# millisecond, mostly for elements nobody reads. The fast reader walks the element structure itself (tags and
# lengths only, over an mmap of the file), keeps the raw bytes of the elements this module reads, and hands
# them to pydicom's own value converters, so every value is decoded exactly as ``dcmread`` would decode it.
# It only takes files of the plain shape: Part 10 preamble, explicit or implicit VR little endian, items and
# delimiters where the standard puts them, no value past the end of the file (except the pixel data, whose
# truncation ``_locate_pixels`` reports). Anything else raises ``_Fallback`` and the file goes to ``dcmread``.

_HH = struct.Struct("<HH")
_HHL = struct.Struct("<HHL")
_HH2sH = struct.Struct("<HH2sH")
_UL = struct.Struct("<L")
_HHHH = struct.Struct("<HHHH")
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_VRS = frozenset(
    b"AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split()
)
_LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ SV UC UN UR UT UV".split())  # 4-byte length in explicit VR
_VR_INTS = frozenset(int.from_bytes(v, "little") for v in _VRS)
_LONG_VR_INTS = frozenset(int.from_bytes(v, "little") for v in _LONG_VRS)
_SQ_INT = int.from_bytes(b"SQ", "little")
_PIXEL_TAG_INTS = frozenset(int(t) for t in _PIXEL_TAGS)
_NOT_PLAIN_SYNTAXES = frozenset(
    {pydicom.uid.ExplicitVRBigEndian, pydicom.uid.DeflatedExplicitVRLittleEndian, *pydicom.uid.PrivateTransferSyntaxes}
)


def _tag(keyword: str) -> int:
    """The tag of a keyword of the DICOM dictionary (for this module's constants: a typo raises at import)."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(f"{keyword!r} is not a DICOM keyword.")
    return tag


# Keywords read by this module; private tags read for b-values / mosaics, with their private creators (an
# implicit VR private element needs its creator for its VR).
_HEADER_KEYWORDS = (
    "SpecificCharacterSet",
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "Modality",
    "Manufacturer",
    "ManufacturerModelName",
    "MagneticFieldStrength",
    "SeriesDescription",
    "ProtocolName",
    "StudyDescription",
    "BodyPartExamined",
    "SeriesNumber",
    "InstanceNumber",
    "ImageType",
    "ScanningSequence",
    "SequenceVariant",
    "ScanOptions",
    "SequenceName",
    "PulseSequenceName",
    "MRAcquisitionType",
    "RepetitionTime",
    "EchoTime",
    "InversionTime",
    "EchoTrainLength",
    "FlipAngle",
    "EchoNumbers",
    "PixelSpacing",
    "SliceThickness",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "PhotometricInterpretation",
    "NumberOfTemporalPositions",
    "ContrastBolusAgent",
    "ContrastBolusIngredient",
    "ContrastBolusRoute",
    "ContrastBolusVolume",
    "ContrastBolusTotalDose",
    "ContrastBolusIngredientConcentration",
    "ImageOrientationPatient",
    "ImagePositionPatient",
    "EchoPulseSequence",
    "EchoPlanarPulseSequence",
    "BitsAllocated",
    "SamplesPerPixel",
    "DiffusionBValue",
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
)
_SHARED_FG = _tag("SharedFunctionalGroupsSequence")
_PIXEL_VALUE_TRANSFORM = _tag("PixelValueTransformationSequence")
# Groups pixel decoding reads: pydicom's decoders (0028, 7FE0), the mosaic geometry (0018), the functional
# groups (5200); 0008 and 0020 for good measure.
_PIXEL_GROUPS = frozenset({0x0008, 0x0018, 0x0020, 0x0028, 0x5200, 0x7FE0})
_PER_FRAME_FG = _tag("PerFrameFunctionalGroupsSequence")
_HEADER_TAGS = frozenset(
    {_tag(k) for k in _HEADER_KEYWORDS}
    | {0x0019100C, 0x00431039, 0x20011003, 0x0019100A}
    | {(g << 16) | e for g in (0x0019, 0x0043, 0x2001) for e in range(0x10, 0x100)}
    | _PIXEL_TAG_INTS
)
# Per-frame functional groups read by _read_enhanced: the first frame's (``first()``) and every frame's (loop).
_EVERY_FRAME_SEQS = frozenset(
    _tag(k) for k in ("PlaneOrientationSequence", "MRDiffusionSequence", "PlanePositionSequence")
)
# What the loop reads inside them (a light item holds only these).
_FRAME_VALUES = frozenset(_tag(k) for k in ("ImageOrientationPatient", "DiffusionBValue", "ImagePositionPatient"))
_FIRST_FRAME_SEQS = _EVERY_FRAME_SEQS | frozenset(
    _tag(k)
    for k in (
        "MRImageFrameTypeSequence",
        "MRTimingAndRelatedParametersSequence",
        "MREchoSequence",
        "MRModifierSequence",
        "PixelMeasuresSequence",
        "ContrastBolusUsageSequence",
    )
)
# Keywords the fast Dataset converts directly (plain VRs: no sequence, no ambiguous or private VR).
_FAST_KEYWORDS = {
    k: BaseTag(_tag(k))
    for k in _HEADER_KEYWORDS
    if dictionary_VR(_tag(k)) in {v.decode() for v in _VRS - {b"SQ", b"UN"}}
}
_FAST_VRS = {tag: dictionary_VR(tag) for tag in _FAST_KEYWORDS.values()}


class _Fallback(Exception):
    """The file is not of the plain shape the fast reader handles."""


def _is_sequence_implicit(tag: int, data, pos: int) -> bool:
    """pydicom's rule for an implicit VR element of undefined length: a sequence when the dictionary says SQ,
    or, for an unknown private tag, when an item tag follows."""
    try:
        return dictionary_VR(tag) == "SQ"
    except KeyError:
        if tag >> 16 & 1:
            return data[pos : pos + 4] == b"\xfe\xff\x00\xe0"
    return False


class _Walker:
    """Tags and lengths of the elements of one file (little endian), over its bytes (an mmap)."""

    def __init__(self, data, implicit: bool):
        self.data, self.size, self.implicit = data, len(data), implicit

    def element(self, pos: int) -> tuple[int, bytes | None, int, int] | None:
        """(tag, VR or None, length, value offset) of the element at ``pos``; None at the end of the data."""
        data = self.data
        if pos + 8 > self.size:
            return None
        if self.implicit:
            g, e, length = _HHL.unpack_from(data, pos)
            return g << 16 | e, None, length, pos + 8
        g, e, vr, length = _HH2sH.unpack_from(data, pos)
        if g == 0xFFFE:
            return g << 16 | e, None, _UL.unpack_from(data, pos + 4)[0], pos + 8
        if vr in _LONG_VRS:
            if pos + 12 > self.size:
                raise _Fallback("short element header")
            return g << 16 | e, vr, _UL.unpack_from(data, pos + 8)[0], pos + 12
        if vr not in _VRS:
            raise _Fallback("unknown VR")
        return g << 16 | e, vr, length, pos + 8

    def value_end(self, tag: int, vr: bytes | None, length: int, vpos: int) -> int:
        """Offset after a value; undefined-length sequences are walked (pydicom parses them while reading)."""
        if length != 0xFFFFFFFF:
            end = vpos + length
            if end > self.size:
                raise _Fallback("value past the end of the file")
            return end
        if vr == b"SQ" or (vr is None and _is_sequence_implicit(tag, self.data, vpos)):
            return self.sequence_end(vpos)
        raise _Fallback("undefined length value that is not a sequence")

    def sequence_end(self, pos: int) -> int:
        """Offset after an undefined-length sequence value starting at ``pos`` (iterative walk)."""
        size, data, implicit = self.size, self.data, self.implicit
        unpack4, unpack_ul = _HHHH.unpack_from, _UL.unpack_from
        long_vrs, vrs = _LONG_VR_INTS, _VR_INTS
        stack: list[int] = [-1]  # -1: in a sequence of undefined length; -2: in an item of undefined length;
        while stack:  # >= 0: in an item that ends at that offset
            top = stack[-1]
            if top == -1:  # expect an item or the sequence delimiter
                if pos + 8 > size:
                    raise _Fallback("end of file inside a sequence")
                g, e, _, _ = unpack4(data, pos)
                if g != 0xFFFE:
                    raise _Fallback("not an item")
                if e == 0xE0DD:
                    stack.pop()
                elif e == 0xE000:
                    ilen = unpack_ul(data, pos + 4)[0]
                    stack.append(-2 if ilen == 0xFFFFFFFF else pos + 8 + ilen)
                else:
                    raise _Fallback("not an item")
                pos += 8
                continue
            while True:  # the elements of an item, until its end or a nested undefined-length sequence
                if top >= 0 and pos >= top:
                    if pos != top:
                        raise _Fallback("item length mismatch")
                    stack.pop()
                    break
                if pos + 8 > size:
                    raise _Fallback("end of file inside a sequence")
                g, e, vr, length = unpack4(data, pos)
                if g == 0xFFFE:
                    if e == 0xE00D and top == -2:
                        stack.pop()
                        pos += 8
                        break
                    raise _Fallback("delimiter inside an item")
                if implicit:
                    length = unpack_ul(data, pos + 4)[0]
                    vpos = pos + 8
                    is_sq = None
                elif vr in long_vrs:
                    length = unpack_ul(data, pos + 8)[0]
                    vpos = pos + 12
                    is_sq = vr == _SQ_INT
                elif vr in vrs:
                    vpos = pos + 8
                    is_sq = False
                else:
                    raise _Fallback("unknown VR")
                if length == 0xFFFFFFFF:
                    if is_sq or (is_sq is None and _is_sequence_implicit(g << 16 | e, data, vpos)):
                        stack.append(-1)
                        pos = vpos
                        break
                    raise _Fallback("undefined length value that is not a sequence")
                pos = vpos + length
                if pos > size:
                    raise _Fallback("value past the end of the file")
        return pos

    def items(self, vpos: int, length: int) -> tuple[list[list[tuple[int, bytes | None, int, int, int]]], int]:
        """Items of a sequence value: per item, its elements as (tag, VR, length, start, end); offset after."""
        end = vpos + length if length != 0xFFFFFFFF else None
        pos = vpos
        out: list[list[tuple[int, bytes | None, int, int, int]]] = []
        while end is None or pos < end:
            h = self.element(pos)
            if h is None or h[0] != _ITEM:
                if h is not None and h[0] == _SEQ_END and end is None:
                    return out, h[3]
                raise _Fallback("not an item")
            ilen, ipos = h[2], h[3]
            iend = ipos + ilen if ilen != 0xFFFFFFFF else None
            pos = ipos
            elements = []
            while iend is None or pos < iend:
                h = self.element(pos)
                if h is None:
                    raise _Fallback("end of file inside an item")
                tag, vr, elen, epos = h
                if tag == _ITEM_END and iend is None:
                    pos = epos
                    break
                if tag >> 16 == 0xFFFE:
                    raise _Fallback("delimiter inside an item")
                nxt = self.value_end(tag, vr, elen, epos)
                elements.append((tag, vr, elen, pos, nxt))
                pos = nxt
            else:
                if pos != iend:
                    raise _Fallback("item length mismatch")
            out.append(elements)
        if pos != end:
            raise _Fallback("sequence length mismatch")
        return out, pos


def _item_bytes(data, elements) -> bytes:
    body = b"".join(data[start:end] for _, _, _, start, end in elements)
    return b"\xfe\xff\x00\xe0" + _UL.pack(len(body)) + body


_VALUE_CACHE: dict[tuple, Any] = {}
_VALUE_CACHE_SIZE = 8192
_MISSING = object()


class _FastDataset(Dataset):
    """A Dataset of raw elements whose plain keyword values are converted without the DataElement machinery
    (same converter, same VR; anything unusual goes through Dataset.get)."""

    def get(self, key, default=None):
        tag = _FAST_KEYWORDS.get(key) if isinstance(key, str) else None
        if tag is not None:
            raw = self._dict.get(tag)
            if raw is None:
                return default
            if isinstance(raw, RawDataElement) and raw.VR != "UN" and raw.value is not None:
                vr = raw.VR or _FAST_VRS[tag]  # implicit VR: the dictionary's VR, as pydicom's raw_element_vr hook
                # The conversion is a function of (VR, bytes, byte order, character set): the files of a series
                # repeat most values, so converted values are remembered (the callers never modify them).
                cache_key = (vr, raw.value, raw.is_little_endian, self._fast_encoding_key)
                value = _VALUE_CACHE.get(cache_key, _MISSING)
                if value is not _MISSING:
                    return value
                try:
                    value = convert_value(vr, raw, self._fast_encoding)
                except Exception:
                    return super().get(key, default)
                if len(_VALUE_CACHE) >= _VALUE_CACHE_SIZE:
                    _VALUE_CACHE.clear()
                _VALUE_CACHE[cache_key] = value
                return value
        return super().get(key, default)


class _LightItem:
    """One item of a per-frame functional-group sequence: ``in``, ``get`` and attribute access by keyword,
    values converted by pydicom from the raw element (cached per file, frames repeat their values)."""

    __slots__ = ("_raw", "_encoding", "_cache")

    def __init__(self, raw: dict[int, RawDataElement], encoding, cache: dict):
        self._raw, self._encoding, self._cache = raw, encoding, cache

    def __contains__(self, keyword: str) -> bool:
        return tag_for_keyword(keyword) in self._raw

    def get(self, keyword: str, default=None):
        tag = tag_for_keyword(keyword)
        raw = self._raw.get(tag) if tag is not None else None
        if raw is None:
            return default
        key = (tag, raw.VR, raw.value)
        if key not in self._cache:  # public tags only: the implicit VR lookup needs no parent dataset
            self._cache[key] = convert_raw_data_element(raw, encoding=self._encoding).value
        return self._cache[key]

    def __getattr__(self, keyword: str):
        if keyword.startswith("_"):
            raise AttributeError(keyword)
        if tag_for_keyword(keyword) not in self._raw:
            raise AttributeError(keyword)
        return self.get(keyword)


class _LightGroup:
    """A per-frame functional group: ``get(sequence keyword)`` -> list of :class:`_LightItem`."""

    __slots__ = ("_seqs",)

    def __init__(self, seqs: dict[int, list[_LightItem]]):
        self._seqs = seqs

    def get(self, keyword: str, default=None):
        tag = tag_for_keyword(keyword)
        return self._seqs.get(tag, default) if tag is not None else default


def _read_instance_fast(path: str) -> InstanceInfo:
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < 140:
            raise _Fallback("too small")
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        ds = _fast_dataset(data, _HEADER_TAGS, header=True)
        return _instance_from_dataset(path, ds, size)
    finally:
        data.close()


def read_pixel_dataset(path: str | Path, frames: frozenset[int] | None = None) -> Dataset:
    """The dataset of ``path`` for pixel decoding, read like ``pydicom.dcmread(path, force=True)`` but faster and
    with only the groups pixel decoding reads (``_PIXEL_GROUPS``, pixel data loaded). The functional groups keep
    only their PixelValueTransformationSequence (the per-frame rescale), and with ``frames``, only for those frames
    and the first (the item count is kept). Raises when the file is not of the plain shape the fast reader
    handles: the caller then uses ``dcmread``.
    """
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size < 140:
            raise _Fallback("too small")
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return _fast_dataset(data, frozenset({0x00080005}), header=False, frames=frames, keep_groups=_PIXEL_GROUPS)
    finally:
        data.close()


def _fast_dataset(
    data,
    keep: frozenset[int],
    *,
    header: bool,
    frames: frozenset[int] | None = None,
    keep_groups: frozenset[int] = frozenset(),
) -> _FastDataset:
    """A dataset of the top-level elements of ``data`` whose tags are in ``keep`` or groups in ``keep_groups``.

    ``header``: per-frame functional groups reduced to what ``_read_enhanced`` reads (the first frame in the
    dataset, later frames as light items), pixel data located but not loaded. Otherwise (pixel decoding): the
    pixel data value is loaded and the functional groups keep their PixelValueTransformationSequence only,
    and when ``frames`` is given only in the first item and those in ``frames`` (the item count is kept).
    """
    if data[128:132] != b"DICM":
        raise _Fallback("no Part 10 preamble")
    walker = _Walker(data, implicit=False)
    pos, meta = 132, dict[BaseTag, RawDataElement]()
    while pos + 6 <= walker.size and _HH.unpack_from(data, pos)[0] == 2:
        if not meta and not (0x40 < data[pos + 4] < 0x5B and 0x40 < data[pos + 5] < 0x5B):
            raise _Fallback("implicit VR file meta")
        tag, vr, length, vpos = walker.element(pos)  # type: ignore[misc]
        if vr is None or length == 0xFFFFFFFF or vpos + length > walker.size:
            raise _Fallback("unusual file meta")
        meta[BaseTag(tag)] = RawDataElement(
            BaseTag(tag), vr.decode(), length, data[vpos : vpos + length], vpos, False, True
        )
        pos = vpos + length
    file_meta = FileMetaDataset(meta)  # type: ignore[arg-type]  # as for _FastDataset below
    file_meta.set_original_encoding(False, True, default_encoding)
    syntax = file_meta.get("TransferSyntaxUID")
    if not syntax or syntax in _NOT_PLAIN_SYNTAXES or pos + 8 > walker.size:
        raise _Fallback("transfer syntax")
    implicit = walker.implicit = syntax == pydicom.uid.ImplicitVRLittleEndian
    if _HH.unpack_from(data, pos)[0] == 0:
        raise _Fallback("command set")
    if (0x40 < data[pos + 4] < 0x5B and 0x40 < data[pos + 5] < 0x5B) == implicit:
        raise _Fallback("VR encoding differs from the transfer syntax")
    raw: dict[BaseTag, RawDataElement] = {}
    later: list[_LightGroup] = []
    size = walker.size
    unpack4, unpack_ul = _HHHH.unpack_from, _UL.unpack_from
    while pos + 8 <= size:
        g, e, vr_int, length = unpack4(data, pos)
        tag = g << 16 | e
        vr = None
        if implicit or g == 0xFFFE:
            length = unpack_ul(data, pos + 4)[0]
            vpos = pos + 8
        elif vr_int in _LONG_VR_INTS:
            if pos + 12 > size:
                raise _Fallback("short element header")
            length = unpack_ul(data, pos + 8)[0]
            vpos = pos + 12
        elif vr_int in _VR_INTS:
            vpos = pos + 8
        else:
            raise _Fallback("unknown VR")
        if tag not in keep and g not in keep_groups and length != 0xFFFFFFFF and g != 0xFFFE:
            pos = vpos + length  # an element nobody reads
            if pos > size:
                raise _Fallback("value past the end of the file")
            continue
        if not implicit and g != 0xFFFE:
            vr = data[pos + 4 : pos + 6]
        if tag == _ITEM_END:
            break  # pydicom ends a top-level dataset here too
        if tag >> 16 == 0xFFFE:
            raise _Fallback("delimiter at top level")
        vr_str = vr.decode() if vr is not None else None
        if tag in _PIXEL_TAG_INTS:
            if length == 0xFFFFFFFF:
                end = _encapsulated_end(data, vpos)
                value = None if header else data[vpos : end - 8]  # as pydicom: without the delimiter
            else:
                end = vpos + length
                value = None if header else data[vpos:end]
                if value is not None and len(value) != length:
                    raise _Fallback("truncated pixel data")
            if tag in keep or tag >> 16 in keep_groups:
                raw[BaseTag(tag)] = RawDataElement(BaseTag(tag), vr_str, length, value, vpos, implicit, True)
            pos = end
            continue
        if tag == _SHARED_FG and length and (tag in keep or tag >> 16 in keep_groups):
            if vr not in (None, b"SQ") or (vr is None and not _is_sequence_implicit(tag, data, vpos)):
                raise _Fallback("shared groups not a sequence")
            items, end = walker.items(vpos, length)
            wanted = _FIRST_FRAME_SEQS if header else frozenset({_PIXEL_VALUE_TRANSFORM})
            value = b"".join(_item_bytes(data, [el for el in item if el[0] in wanted]) for item in items)
            raw[BaseTag(tag)] = RawDataElement(BaseTag(tag), vr_str, len(value), value, vpos, implicit, True)
            pos = end
            continue
        if tag == _PER_FRAME_FG and length and (tag in keep or tag >> 16 in keep_groups):
            if vr not in (None, b"SQ") or (vr is None and not _is_sequence_implicit(tag, data, vpos)):
                raise _Fallback("per-frame groups not a sequence")
            items, end = walker.items(vpos, length)
            if header:
                value = _item_bytes(data, [el for el in items[0] if el[0] in _FIRST_FRAME_SEQS]) if items else b""
                later = [_light_group(walker, item) for item in items[1:]]
            else:  # pixel decoding reads the rescale of the frames it decodes
                value = b"".join(
                    _item_bytes(
                        data,
                        [el for el in item if el[0] == _PIXEL_VALUE_TRANSFORM]
                        if frames is None or i == 0 or i in frames
                        else [],
                    )
                    for i, item in enumerate(items)
                )
            raw[BaseTag(tag)] = RawDataElement(BaseTag(tag), vr_str, len(value), value, vpos, implicit, True)
            pos = end
            continue
        end = walker.value_end(tag, vr, length, vpos)
        if tag in keep or tag >> 16 in keep_groups:
            # an undefined-length sequence is kept as its items (and delimiter), read back by pydicom on access
            raw[BaseTag(tag)] = RawDataElement(
                BaseTag(tag),
                vr_str,
                length if length != 0xFFFFFFFF else end - vpos,
                data[vpos:end],
                vpos,
                implicit,
                True,
            )
        pos = end
    ds = _FastDataset(raw)  # type: ignore[arg-type]  # Dataset stores RawDataElements (dict is invariant)
    encoding = (
        convert_encodings(convert_raw_data_element(raw[BaseTag(0x00080005)]).value)
        if 0x00080005 in raw
        else default_encoding
    )
    ds.set_original_encoding(implicit, True, encoding)
    ds.file_meta = file_meta
    ds._fast_encoding = ds._character_set
    ds._fast_encoding_key = tuple(ds._fast_encoding) if isinstance(ds._fast_encoding, list) else ds._fast_encoding
    if later:
        cache: dict = {}
        for group in later:
            for light_items in group._seqs.values():
                for light in light_items:
                    light._encoding, light._cache = encoding, cache
        ds._later_frames = later
    return ds


def _light_group(walker: _Walker, elements) -> _LightGroup:
    """The sequences of one per-frame item that ``_read_enhanced``'s loop reads, as light items."""
    data = walker.data
    seqs: dict[int, list[_LightItem]] = {}
    for tag, vr, length, start, _ in elements:
        if tag not in _EVERY_FRAME_SEQS:
            continue
        if vr not in (None, b"SQ"):
            raise _Fallback("functional group not a sequence")
        vpos = start + (8 if vr is None else 12)
        if length == 0:
            seqs[tag] = []
            continue
        items, _ = walker.items(vpos, length)
        seqs[tag] = [
            _LightItem(
                {
                    BaseTag(t): RawDataElement(
                        BaseTag(t),
                        v.decode() if v is not None else None,
                        n,
                        data[s + (8 if v is None or v not in _LONG_VRS else 12) : e],
                        s,
                        walker.implicit,
                        True,
                    )
                    for t, v, n, s, e in item
                    if t in _FRAME_VALUES and n != 0xFFFFFFFF
                },
                None,
                {},
            )
            for item in items
        ]
    return _LightGroup(seqs)


def _encapsulated_end(data, pos: int) -> int:
    """Offset after encapsulated (compressed) pixel data: its items, then the sequence delimiter."""
    size = len(data)
    while True:
        if pos + 8 > size:
            raise _Fallback("end of file inside encapsulated pixel data")
        g, e, length = _HHL.unpack_from(data, pos)
        if (g, e) == (0xFFFE, 0xE0DD):
            return pos + 8
        if (g, e) != (0xFFFE, 0xE000) or length == 0xFFFFFFFF:
            raise _Fallback("not an item in encapsulated pixel data")
        pos += 8 + length
