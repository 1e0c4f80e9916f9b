"""The header record of one DICOM instance (:class:`InstanceInfo`) and the error for unreadable files.

Classic and enhanced (multi-frame) MR fill the same fields (:mod:`radclass.io.header_fields` maps the
functional groups onto their classic equivalents), so the series grouping and the header model see one
vocabulary whatever the storage flavour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
