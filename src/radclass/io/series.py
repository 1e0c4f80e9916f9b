"""A :class:`Series` (what gets classified) and the grouping of DICOM instances into series.

A DICOM series is the set of instances sharing a SeriesInstanceUID. Real exports sometimes put images of
different matrices, echoes or b-values under one UID (dual-echo PD/T2, b0 + b1000 diffusion): those are split
into sub-series, named by what differs (``echo2``, ``b1000``, ``256x256``). :func:`series_key` names a
(sub-)series in the SQLite index, structured reports and the review page.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from radclass.io.geometry import plane_of_iops, slice_normal
from radclass.io.header_model import InstanceInfo
from radclass.taxonomy import Flag, SeriesFlag, join_flags
from radclass.values import as_text

# Header columns of a series row, in output order (see README "scan columns").
HEADER_COLUMNS: tuple[str, ...] = (
    "modality",
    "manufacturer",
    "model",
    "field_strength",
    "series_description",
    "protocol_name",
    "study_description",
    "body_part",
    "series_number",
    "study_uid",
    "orientation",
    "acquisition",
    "image_type",
    "frame_type",
    "acquisition_contrast",
    "scanning_sequence",
    "sequence_variant",
    "scan_options",
    "sequence_name",
    "mr_acquisition_type",
    "repetition_time",
    "echo_time",
    "inversion_time",
    "echo_train_length",
    "flip_angle",
    "echo_numbers",
    "b_values",
    "pixel_spacing",
    "slice_thickness",
    "rows",
    "columns",
    "temporal_positions",
    "contrast_agent",
    "photometric",
    "transfer_syntax",
)
# Columns of a scan table row (:meth:`Series.row`), in output order.
SCAN_COLUMNS: tuple[str, ...] = (
    "path",
    "series_uid",
    "sub_series",
    "status",
    "reason",
    "flags",
    "format",
    "n_files",
    "n_frames",
    *HEADER_COLUMNS,
    "files",
)


def series_key(series_uid: Any, sub_series: Any = "") -> str:
    """Identifier of a series in indexes and reports: its UID, plus ``#<sub_series>`` when the UID was split.

    Parameters
    ----------
    series_uid, sub_series
        Table cells (missing values as None, '' or NaN: :func:`radclass.values.as_text`).

    Returns
    -------
    str
        ``"1.2.3"`` or ``"1.2.3#echo2"``; '' for a row without a UID (a skipped file).
    """
    uid, sub = as_text(series_uid), as_text(sub_series)
    return f"{uid}#{sub}" if sub else uid


@dataclass
class Series:
    """One unit of classification: a DICOM (sub-)series, a NIfTI file or a 2D image."""

    path: str
    format: str  # dicom | nifti | image
    series_uid: str
    files: list[str]
    header: dict[str, Any]
    sub_series: str = ""
    n_frames: int = 1
    flags: tuple[SeriesFlag, ...] = ()
    instances: list[InstanceInfo] = field(default_factory=list)  # DICOM only, in slice order

    @property
    def key(self) -> str:
        """Identifier of the series in indexes (:func:`series_key`)."""
        return series_key(self.series_uid, self.sub_series)

    def row(self) -> dict[str, Any]:
        """The scan table row of this series."""
        return {
            "path": self.path,
            "series_uid": self.series_uid,
            "sub_series": self.sub_series,
            "status": "ok",
            "reason": "",
            "flags": join_flags(self.flags),
            "format": self.format,
            "n_files": len(self.files),
            "n_frames": self.n_frames,
            **{c: self.header.get(c) for c in HEADER_COLUMNS},
            "files": ";".join(self.files),
        }


def group_instances(instances: Iterable[InstanceInfo]) -> list[Series]:
    """Group image instances by SeriesInstanceUID and split mixed UIDs into sub-series."""
    by_uid: dict[str, list[InstanceInfo]] = defaultdict(list)
    for inst in instances:
        uid = inst.series_uid or f"no-uid:{os.path.dirname(inst.path)}"
        by_uid[uid].append(inst)
    series: list[Series] = []
    entries: dict[str, int] = {}  # entries per folder, listed once per call (many one-file series share one)
    for uid, members in by_uid.items():
        for folder_sub, copy in _split_copies(members).items():
            parts = _split(copy)
            for sub, part in parts.items():
                name = "_".join(n for n in (folder_sub, sub if len(parts) > 1 else "") if n)
                series.append(_make_series(uid, name, part, entries))
    series.sort(key=lambda s: (s.path, s.series_uid, s.sub_series))
    return series


def _split_copies(members: list[InstanceInfo]) -> dict[str, list[InstanceInfo]]:
    """Separate the folders one SeriesInstanceUID is spread over (copies or parts of one series).

    Exports put a series in one folder; a UID found in several folders is a copy (another transfer syntax,
    a re-export), so each folder is its own sub-series, named by the folder.
    """
    by_folder: dict[str, list[InstanceInfo]] = defaultdict(list)
    for m in members:
        by_folder[os.path.dirname(m.path)].append(m)
    if len(by_folder) == 1:
        return {"": members}
    names = [os.path.basename(f) for f in by_folder]
    if len(set(names)) < len(names):  # same folder name in different places: name by the relative path
        common = os.path.commonpath(list(by_folder))
        names = [os.path.relpath(f, common) for f in by_folder]
    return dict(zip(names, by_folder.values()))


def _split(members: list[InstanceInfo]) -> dict[str, list[InstanceInfo]]:
    """Sub-series by matrix, echo number and b-value, named by the properties that differ."""

    def props(i: InstanceInfo) -> tuple[str, str, str]:
        matrix = f"{i.rows}x{i.columns}"
        echo = f"echo{i.echo_number}" if i.echo_number is not None else ""
        b = f"b{i.b_values[0]:g}" if len(i.b_values) == 1 else ""
        return matrix, echo, b

    keys = [props(i) for i in members]
    varying = [k for k in range(3) if len({key[k] for key in keys}) > 1]
    parts: dict[str, list[InstanceInfo]] = defaultdict(list)
    for inst, key in zip(members, keys):
        parts["_".join(key[k] for k in varying)].append(inst)
    return dict(parts)


def _make_series(uid: str, sub: str, members: list[InstanceInfo], entries: dict[str, int]) -> Series:
    members = sort_slices(members)
    first = members[0]
    files = [m.path for m in members]
    folder = os.path.commonpath([os.path.dirname(f) for f in files])
    # A lone file among others names itself; a series (or a part of a split one) is named by its folder.
    path = files[0] if len(files) == 1 and not sub and _folder_has_others(folder, files, entries) else folder
    iops = [iop for m in members for iop in m.orientations]
    b_values = sorted({b for m in members for b in m.b_values})
    echoes = sorted({m.echo_number for m in members if m.echo_number is not None})
    header: dict[str, Any] = {
        "modality": first.modality,
        "manufacturer": first.manufacturer,
        "model": first.model,
        "field_strength": first.field_strength,
        "series_description": first.series_description,
        "protocol_name": first.protocol_name,
        "study_description": first.study_description,
        "body_part": first.body_part,
        "series_number": first.series_number,
        "study_uid": first.study_uid,
        "orientation": plane_of_iops(iops),
        "acquisition": first.mr_acquisition_type if first.mr_acquisition_type in ("2D", "3D") else "",
        "image_type": "\\".join(first.image_type),
        "frame_type": "\\".join(first.frame_type),
        "acquisition_contrast": first.acquisition_contrast,
        "scanning_sequence": "\\".join(first.scanning_sequence),
        "sequence_variant": "\\".join(first.sequence_variant),
        "scan_options": "\\".join(first.scan_options),
        "sequence_name": first.sequence_name,
        "mr_acquisition_type": first.mr_acquisition_type,
        "repetition_time": first.repetition_time,
        "echo_time": first.echo_time,
        "inversion_time": first.inversion_time,
        "echo_train_length": first.echo_train_length,
        "flip_angle": first.flip_angle,
        "echo_numbers": "\\".join(str(e) for e in echoes),
        "b_values": "\\".join(f"{b:g}" for b in b_values),
        "pixel_spacing": "\\".join(f"{v:g}" for v in first.pixel_spacing) if first.pixel_spacing else "",
        "slice_thickness": first.slice_thickness,
        "rows": first.rows,
        "columns": first.columns,
        "temporal_positions": first.temporal_positions,
        "contrast_agent": next((m.contrast_agent for m in members if m.contrast_agent), ""),
        "photometric": first.photometric,
        "transfer_syntax": first.transfer_syntax,
    }
    flags: list[SeriesFlag] = []
    if not any(m.has_pixels for m in members):
        flags.append(Flag.NO_PIXELS)
    issues = sorted({m.pixel_issue for m in members if m.pixel_issue})
    if issues:
        flags.append(Flag.PIXEL_ISSUE.note(issues[0]))
    if len({(m.rows, m.columns) for m in members}) > 1:
        flags.append(Flag.INCONSISTENT_MATRIX)
    if any(m.mosaic_images or "MOSAIC" in m.image_type for m in members):
        flags.append(Flag.MOSAIC)
    n_frames = sum(m.mosaic_images or (m.n_frames if "MOSAIC" not in m.image_type else 1) for m in members)
    return Series(
        path=path,
        format="dicom",
        series_uid=uid.removeprefix("no-uid:") if uid.startswith("no-uid:") else uid,
        files=files,
        header=header,
        sub_series=sub,
        n_frames=n_frames,
        flags=tuple(flags),
        instances=members,
    )


def _folder_has_others(folder: str, files: list[str], entries: dict[str, int]) -> bool:
    """True when ``folder`` holds other entries than ``files`` (then a single file names the series);
    ``entries``: the entry counts of the folders already listed (-1: unreadable)."""
    if folder not in entries:
        try:
            entries[folder] = len(os.listdir(folder))
        except OSError:
            entries[folder] = -1
    return entries[folder] < 0 or entries[folder] > len(files)


def sort_slices(members: list[InstanceInfo]) -> list[InstanceInfo]:
    """Order instances along the slice normal when geometry allows, else by InstanceNumber, then path."""
    normal = slice_normal(members[0].orientations[0]) if members[0].orientations else None

    def key(m: InstanceInfo) -> tuple[float, float, str]:
        pos = float(np.dot(normal, m.position)) if normal is not None and m.position else 0.0
        return (pos, float(m.instance_number or 0), m.path)

    return sorted(members, key=key)
