"""The header record of one DICOM instance from its dataset: :func:`instance_from_dataset`.

One mapping for every reader (the raw element walk of :mod:`radclass.io.raw_dataset` and ``pydicom.dcmread``):
classic attributes, enhanced MR functional groups mapped onto their classic equivalents (for example
EchoPulseSequence/EchoPlanarPulseSequence/InversionRecovery onto ScanningSequence tokens), vendor private
b-values and mosaic counts, and where the pixel data lies (located, never loaded).
"""

from __future__ import annotations

from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.tag import Tag

from radclass.io.header_model import DicomReadError, InstanceInfo
from radclass.io.header_values import (
    as_list,
    first_number,
    get_float,
    get_floats,
    get_int,
    get_pair,
    get_text,
    get_tokens,
    tesla,
)
from radclass.io.raw_dataset import PIXEL_TAGS, UNDEFINED_LENGTH, HeaderElements

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


def instance_from_dataset(path: str, ds: Dataset | HeaderElements, size: int) -> InstanceInfo:
    """The header record of the file at ``path`` from its dataset ``ds``.

    Parameters
    ----------
    path
        The file, recorded in the record.
    ds
        Its dataset, from ``pydicom.dcmread`` or :func:`radclass.io.raw_dataset.fast_dataset` (pixel data need
        not be loaded).
    size
        The file's size in bytes (pixel data past it is reported as truncation).

    Raises
    ------
    DicomReadError
        When the dataset holds no usable element.
    """
    if len(ds) == 0 or ("SOPClassUID" not in ds and "SeriesInstanceUID" not in ds and "Rows" not in ds):
        raise DicomReadError("DICOM preamble but no usable data elements (garbage content)")
    info = InstanceInfo(path=path)
    info.sop_class_uid = get_text(ds, "SOPClassUID")
    info.sop_instance_uid = get_text(ds, "SOPInstanceUID")
    info.study_uid = get_text(ds, "StudyInstanceUID")
    info.series_uid = get_text(ds, "SeriesInstanceUID")
    info.modality = get_text(ds, "Modality")
    info.manufacturer = get_text(ds, "Manufacturer")
    info.model = get_text(ds, "ManufacturerModelName")
    info.field_strength = tesla(get_float(ds, "MagneticFieldStrength"))
    info.series_description = get_text(ds, "SeriesDescription")
    info.protocol_name = get_text(ds, "ProtocolName")
    info.study_description = get_text(ds, "StudyDescription")
    info.body_part = get_text(ds, "BodyPartExamined")
    info.series_number = get_int(ds, "SeriesNumber")
    info.instance_number = get_int(ds, "InstanceNumber")
    info.image_type = get_tokens(ds, "ImageType")
    info.scanning_sequence = get_tokens(ds, "ScanningSequence")
    info.sequence_variant = get_tokens(ds, "SequenceVariant")
    info.scan_options = get_tokens(ds, "ScanOptions")
    info.sequence_name = get_text(ds, "SequenceName") or get_text(ds, "PulseSequenceName")
    info.mr_acquisition_type = get_text(ds, "MRAcquisitionType")
    info.repetition_time = get_float(ds, "RepetitionTime")
    info.echo_time = get_float(ds, "EchoTime")
    info.inversion_time = get_float(ds, "InversionTime")
    info.echo_train_length = get_float(ds, "EchoTrainLength")
    info.flip_angle = get_float(ds, "FlipAngle")
    info.echo_number = get_int(ds, "EchoNumbers")
    info.pixel_spacing = get_pair(ds, "PixelSpacing")
    info.slice_thickness = get_float(ds, "SliceThickness")
    info.rows = get_int(ds, "Rows")
    info.columns = get_int(ds, "Columns")
    info.n_frames = get_int(ds, "NumberOfFrames") or 1
    info.photometric = get_text(ds, "PhotometricInterpretation")
    info.temporal_positions = get_int(ds, "NumberOfTemporalPositions")
    info.contrast_agent = _contrast_agent(ds)
    iop = get_floats(ds, "ImageOrientationPatient", 6)
    info.orientations = (iop,) if iop else ()
    ipp = get_floats(ds, "ImagePositionPatient", 3)
    info.position = (ipp[0], ipp[1], ipp[2]) if ipp else None
    meta = getattr(ds, "file_meta", None)
    info.transfer_syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    b = _b_value(ds, info.manufacturer)
    info.b_values = (b,) if b is not None else ()
    if "ImageType" in ds and "MOSAIC" in info.image_type:
        info.mosaic_images = _siemens_mosaic_count(ds)
    if "SharedFunctionalGroupsSequence" in ds or "PerFrameFunctionalGroupsSequence" in ds:
        _read_enhanced(ds, info, getattr(ds, "_later_frames", []), getattr(ds, "_light_groups", (None, None)))
    _locate_pixels(ds, info, size)
    return info


# --- enhanced (multi-frame) MR -------------------------------------------------------------------


def _read_enhanced(
    ds: Dataset | HeaderElements,
    info: InstanceInfo,
    later_frames: list[Any] = (),  # type: ignore[assignment]
    light: tuple[Any, list[Any] | None] = (None, None),
) -> None:
    """Fill classic fields from the functional groups of an enhanced MR object.

    ``later_frames``: per-frame groups after the ones in ``ds`` (the fast reader keeps only the first frame's
    group in the dataset and passes the others as light items holding just what the loop below reads).
    ``light``: (shared group, [first frame's group]) as the fast reader's light items, each None when it did
    not read them (pydicom then parses them from ``ds``).
    """
    light_shared, light_first = light
    if light_shared is not None:
        shared = light_shared
    else:
        shared = ds.SharedFunctionalGroupsSequence[0] if ds.get("SharedFunctionalGroupsSequence") else Dataset()
    per_frame = light_first if light_first is not None else (ds.get("PerFrameFunctionalGroupsSequence") or [])
    groups = [shared, *per_frame[:1]]  # frame-invariant facts: shared + first frame

    def first(seq_kw: str, kw: str) -> Any:
        for g in groups:
            seq = g.get(seq_kw)
            if seq and kw in seq[0] and seq[0].get(kw) not in (None, ""):
                return seq[0].get(kw)
        return None

    ft = first("MRImageFrameTypeSequence", "FrameType")
    if ft:
        info.frame_type = tuple(str(v) for v in as_list(ft))
    info.acquisition_contrast = str(first("MRImageFrameTypeSequence", "AcquisitionContrast") or "")
    info.repetition_time = info.repetition_time or first_number(
        first("MRTimingAndRelatedParametersSequence", "RepetitionTime")
    )
    info.flip_angle = info.flip_angle or first_number(first("MRTimingAndRelatedParametersSequence", "FlipAngle"))
    info.echo_train_length = info.echo_train_length or first_number(
        first("MRTimingAndRelatedParametersSequence", "EchoTrainLength")
    )
    info.echo_time = info.echo_time or first_number(first("MREchoSequence", "EffectiveEchoTime"))
    ti = first("MRModifierSequence", "InversionTimes")
    if info.inversion_time is None and ti is not None:
        info.inversion_time = first_number(as_list(ti)[0])
    if not info.pixel_spacing:
        ps = first("PixelMeasuresSequence", "PixelSpacing")
        info.pixel_spacing = (float(ps[0]), float(ps[1])) if ps else None
    info.slice_thickness = info.slice_thickness or first_number(first("PixelMeasuresSequence", "SliceThickness"))
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


def _enhanced_scanning_sequence(ds: Dataset | HeaderElements, groups: list[Dataset]) -> tuple[str, ...]:
    tokens: list[str] = []
    echo = get_text(ds, "EchoPulseSequence")
    if echo in ("SPIN", "BOTH"):
        tokens.append("SE")
    if echo in ("GRADIENT", "BOTH"):
        tokens.append("GR")
    for g in groups:
        mod = g.get("MRModifierSequence")
        if mod and str(mod[0].get("InversionRecovery", "")) == "YES":
            tokens.append("IR")
            break
    if get_text(ds, "EchoPlanarPulseSequence") == "YES":
        tokens.append("EP")
    return tuple(tokens)


# --- pixels ----------------------------------------------------------------------------------------


def _locate_pixels(ds: Dataset | HeaderElements, info: InstanceInfo, size: int) -> None:
    """Find the pixel data element without loading it; flag truncation and size mismatches."""
    elem = None
    for tag in PIXEL_TAGS:
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
    if length is not None and length != UNDEFINED_LENGTH and tell is not None and tell + length > size:
        info.has_pixels = False
        info.pixel_issue = f"truncated at byte {size} (pixel data needs {tell + length})"
        return
    if length is None or length == UNDEFINED_LENGTH or not info.rows or not info.columns:
        return  # encapsulated (compressed) or incomplete: checked when decoded
    ts = pydicom.uid.UID(info.transfer_syntax) if info.transfer_syntax else None
    if ts is not None and ts.is_compressed:
        return
    bits = get_int(ds, "BitsAllocated") or 16
    spp = get_int(ds, "SamplesPerPixel") or 1
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


def _b_value(ds: Dataset | HeaderElements, manufacturer: str) -> float | None:
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
                value = as_list(value)[0] if not isinstance(value, bytes) else None
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


def _siemens_mosaic_count(ds: Dataset | HeaderElements) -> int | None:
    tag = Tag(0x0019, 0x100A)
    if tag in ds:
        try:
            return int(ds[tag].value)
        except (TypeError, ValueError):
            return None
    return None


def _contrast_agent(ds: Dataset | HeaderElements) -> str:
    for kw in ("ContrastBolusAgent", "ContrastBolusIngredient", "ContrastBolusRoute"):
        v = get_text(ds, kw)
        if v:
            return v
    for kw in ("ContrastBolusVolume", "ContrastBolusTotalDose", "ContrastBolusIngredientConcentration"):
        amount = get_float(ds, kw)
        if amount:
            return f"{kw}={amount}"
    return ""
