"""Write simulated series and studies as DICOM (MR Image Storage, explicit VR little endian, one file per slice).

:func:`write_series` renders one series of a :class:`~radclass.simulate.protocols.Protocol` and writes its
files with the protocol's header; :func:`write_study` writes a multi-series study of one simulated subject
(shared StudyInstanceUID, FrameOfReferenceUID, scanner and head) plus ``truth.csv``.

To keep synthetic data small, a series is written with at most ``max_slices`` slices (spread over the same
coverage, so SpacingBetweenSlices grows), ``max_matrix`` rows/columns (PixelSpacing grows, FOV kept) and
``max_volumes`` volumes; the header describes what is written. Siemens mosaics are written as single slices
(``MOSAIC`` dropped from ImageType) and colour FA as its luminance.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from radclass.simulate.anatomy import load_anatomy
from radclass.simulate.geometry import Stack, coverage, plane_axes
from radclass.simulate.protocols import Protocol, sample_protocol
from radclass.simulate.render import Subject, render_stack, sample_subject

DEFAULT_STUDY: tuple[tuple[str, str], ...] = (
    ("SCOUT", "SAG"),
    ("T1", "SAG"),
    ("T2", "AX"),
    ("FLAIR", "AX"),
    ("DWI", "AX"),
    ("ADC", "AX"),
    ("SWI", "AX"),
    ("T2STAR", "AX"),
    ("MRA", "AX"),
    ("T1C", "AX"),
    ("T1C", "COR"),
)


@dataclass(frozen=True)
class StudyInfo:
    """Study-level attributes shared by every series of a study."""

    study_uid: str
    frame_uid: str
    patient_name: str
    patient_id: str
    birth_date: str
    sex: str
    date: str
    time: str
    accession: str
    description: str
    vendor: str
    field_strength: float


@dataclass(frozen=True)
class WrittenSeries:
    """What :func:`write_series` wrote."""

    path: Path
    series_uid: str
    protocol: Protocol
    n_files: int


def _uid(rng: np.random.Generator) -> str:
    """A reproducible UID under pydicom's root, derived from ``rng``."""
    return generate_uid(entropy_srcs=[str(int(rng.integers(1 << 62)))])


def sample_study_info(
    rng: np.random.Generator, *, vendor: str | None = None, field_strength: float | None = None
) -> StudyInfo:
    """A random patient/study/scanner (the vendor and field strength drawn like :func:`sample_protocol`)."""
    probe = sample_protocol("T2", rng, vendor=vendor, field_strength=field_strength)
    date = dt.date(2015, 1, 1) + dt.timedelta(days=int(rng.integers(0, 3650)))
    birth = date - dt.timedelta(days=int(rng.integers(18 * 365, 85 * 365)))
    number = int(rng.integers(1, 10**6))
    return StudyInfo(
        study_uid=_uid(rng),
        frame_uid=_uid(rng),
        patient_name=f"SIM^SUBJECT{number:06d}",
        patient_id=f"SIM{number:06d}",
        birth_date=birth.strftime("%Y%m%d"),
        sex=str(rng.choice(["F", "M"])),
        date=date.strftime("%Y%m%d"),
        time=f"{int(rng.integers(7, 19)):02d}{int(rng.integers(0, 60)):02d}00",
        accession=f"A{int(rng.integers(10**7)):07d}",
        description=str(
            rng.choice(["MRI BRAIN W/WO CONTRAST", "MR HEAD", "Brain^Routine", "NEURO^BRAIN", "MRT Schaedel"])
        ),
        vendor=probe.vendor,
        field_strength=probe.field_strength,
    )


# ------------------------------------------------------------------------------------------ geometry


def _series_stack(
    protocol: Protocol, orientation: str, rng: np.random.Generator, *, max_slices: int | None, max_matrix: int | None
) -> Stack:
    """The slice stack of a series: protocol matrix and spacing (capped), centred on the brain."""
    anatomy = load_anatomy()
    rows, cols = protocol.rows, protocol.columns
    ps = protocol.pixel_spacing
    if max_matrix and max(rows, cols) > max_matrix:
        factor = max(rows, cols) / max_matrix
        rows, cols = int(round(rows / factor)), int(round(cols / factor))
        ps = (ps[0] * protocol.rows / rows, ps[1] * protocol.columns / cols)
    row, col = plane_axes(orientation, rng)
    normal = np.cross(row, col)
    centre = anatomy.brain_center_lps + rng.normal(0.0, 3.0, size=3).astype(np.float32)
    lo, hi = coverage(protocol.sequence, anatomy.brain_points_lps, normal, centre)
    n, spacing = protocol.n_slices, protocol.spacing_between_slices
    span = n * spacing
    if max_slices and n > max_slices:
        span = min(span, (hi - lo) + 20.0)
        n = max_slices
        spacing = max(spacing, span / n)
    middle = (lo + hi) / 2.0 + rng.normal(0.0, 2.0)
    offsets = middle + (np.arange(n) - (n - 1) / 2.0) * spacing
    return Stack(
        row=row,
        col=col,
        centre=centre,
        offsets=offsets,
        rows=rows,
        columns=cols,
        pixel_spacing=(round(float(ps[0]), 4), round(float(ps[1]), 4)),
    )


# ------------------------------------------------------------------------------------------ pixels


def _to_stored(values: np.ndarray, protocol: Protocol) -> tuple[np.ndarray, float, float, int]:
    """Stored integers, RescaleSlope, RescaleIntercept and PixelRepresentation for pixel values."""
    if protocol.image in ("phase",) and protocol.vendor == "Siemens":  # 0..4095 -> -4096..4094
        raw = np.clip(np.round((values + 4096.0) / 2.0), 0, 4095).astype(np.uint16)
        return raw, 2.0, -4096.0, 0
    if values.min() < 0:
        return np.clip(np.round(values), -32768, 32767).astype(np.int16), 1.0, 0.0, 1
    if protocol.image == "cbf":
        return np.clip(np.round(values * 10.0), 0, 65535).astype(np.uint16), 0.1, 0.0, 0
    return np.clip(np.round(values), 0, 65535).astype(np.uint16), 1.0, 0.0, 0


def _gradient(protocol: Protocol, volume: int) -> dict[str, float]:
    """A fixed gradient direction per diffusion volume (golden-angle spiral over the sphere)."""
    if protocol.image != "direction" or volume == 0:
        return {}
    z = 1.0 - 2.0 * ((volume - 0.5) % 16) / 16.0
    phi = volume * 2.39996
    r = float(np.sqrt(max(1.0 - z * z, 0.0)))
    return {"gx": r * float(np.cos(phi)), "gy": r * float(np.sin(phi)), "gz": z}


def _volume_protocols(protocol: Protocol, n_volumes: int) -> list[Protocol]:
    """Per-volume variants: b0 then diffusion weighting, ASL control/label pairs, DSC time points."""
    out = []
    for v in range(n_volumes):
        p = protocol
        if protocol.sequence == "DWI" and n_volumes > 1:
            b = 0.0 if v == 0 else (protocol.b_value or 1000.0)
            p = replace(
                protocol,
                image="b0" if v == 0 else protocol.image,
                b_value=b,
                physics={**protocol.physics, "b": b, **_gradient(protocol, v)},
            )
        elif protocol.image == "asl_raw":
            p = replace(protocol, physics={**protocol.physics, "phase": float(v % 2)})
        elif protocol.image == "dsc_raw":
            p = replace(protocol, physics={**protocol.physics, "bolus": v / max(n_volumes - 1, 1)})
        out.append(p)
    return out


# ------------------------------------------------------------------------------------------ datasets


def _header(protocol: Protocol, study: StudyInfo, series_uid: str, series_number: int, stack: Stack) -> Dataset:
    """Series-level attributes (patient, study, equipment, MR acquisition)."""
    ds = Dataset()
    ds.SOPClassUID = MRImageStorage
    ds.Modality = "MR"
    ds.PatientName, ds.PatientID = study.patient_name, study.patient_id
    ds.PatientBirthDate, ds.PatientSex = study.birth_date, study.sex
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID, ds.StudyDate, ds.StudyTime = study.study_uid, study.date, study.time
    ds.StudyID, ds.AccessionNumber, ds.StudyDescription = "1", study.accession, study.description
    ds.ReferringPhysicianName = ""
    ds.SeriesInstanceUID, ds.SeriesNumber = series_uid, series_number
    ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = study.date
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = study.time
    ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = study.frame_uid, ""
    ds.BodyPartExamined = "HEAD"
    ds.InstitutionName = "radclass simulator"
    ds.SoftwareVersions = "radclass.simulate"
    header = protocol.header()
    image_type = [v for v in header.pop("ImageType") if v != "MOSAIC"]
    ds.ImageType = image_type
    for key in (
        "DiffusionBValue",
        "NumberOfTemporalPositions",
        "PixelSpacing",
        "Rows",
        "Columns",
        "SpacingBetweenSlices",
        "ContrastBolusAgent",
    ):
        header.pop(key, None)
    for key, value in header.items():
        setattr(ds, key, value)
    if protocol.contrast_agent:
        ds.ContrastBolusAgent = protocol.contrast_agent
        ds.ContrastBolusRoute = "IV"
    ds.ImagedNucleus, ds.EchoNumbers, ds.PercentSampling = "1H", 1, 100
    freq_phase = (
        [stack.rows, 0, 0, stack.columns] if protocol.phase_direction == "ROW" else [0, stack.columns, stack.rows, 0]
    )
    ds.AcquisitionMatrix = freq_phase
    ds.SliceThickness = protocol.slice_thickness
    spacing = float(np.diff(stack.offsets).mean()) if len(stack.offsets) > 1 else protocol.spacing_between_slices
    ds.SpacingBetweenSlices = round(spacing, 4)
    ds.ImageOrientationPatient = stack.image_orientation()
    ds.PixelSpacing = list(stack.pixel_spacing)
    ds.Rows, ds.Columns = stack.rows, stack.columns
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    return ds


def _slice_dataset(
    base: Dataset,
    stack: Stack,
    index: int,
    pixels: np.ndarray,
    instance: int,
    volume: int,
    n_volumes: int,
    protocol: Protocol,
    rng: np.random.Generator,
) -> Dataset:
    ds = Dataset()
    ds.update(base)
    ds.SOPInstanceUID = _uid(rng)
    ds.InstanceNumber = instance
    ds.AcquisitionNumber = volume + 1
    ds.ImagePositionPatient = stack.image_position(index)
    ds.SliceLocation = round(float(np.dot(ds.ImagePositionPatient, stack.normal)), 4)
    if n_volumes > 1:
        ds.TemporalPositionIdentifier = volume + 1
        ds.NumberOfTemporalPositions = n_volumes
    if protocol.sequence == "DWI" and protocol.b_value is not None:
        ds.DiffusionBValue = float(protocol.b_value)
        if "gx" in protocol.physics:
            ds.DiffusionGradientOrientation = [round(protocol.physics[k], 6) for k in ("gx", "gy", "gz")]
    raw, slope, intercept, signed = _to_stored(pixels, protocol)
    ds.PixelRepresentation = signed
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = slope, intercept, "US"
    real = raw.astype(np.float64) * slope + intercept
    low, high = np.percentile(real, 1), np.percentile(real, 99.5)
    ds.WindowCenter, ds.WindowWidth = round(float((low + high) / 2), 1), round(float(max(high - low, 1.0)), 1)
    ds.PixelData = raw.tobytes()
    return ds


def _save(ds: Dataset, path: Path) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)


def _folder_name(series_number: int, description: str) -> str:
    return f"{series_number:03d}_" + (re.sub(r"[^A-Za-z0-9]+", "_", description).strip("_") or "series")


# --------------------------------------------------------------------------------------------- API


def write_series(
    out_dir: Path,
    sequence: str,
    orientation: str,
    rng: np.random.Generator,
    *,
    protocol: Protocol | None = None,
    subject: Subject | None = None,
    study: StudyInfo | None = None,
    series_number: int = 1,
    max_slices: int | None = 24,
    max_matrix: int | None = 256,
    max_volumes: int = 2,
) -> WrittenSeries:
    """Simulate one series and write it under ``out_dir`` (a new folder per series, one file per slice).

    Parameters
    ----------
    out_dir:
        Parent folder; the series folder is ``NNN_<SeriesDescription>``.
    sequence, orientation:
        radclass labels (:data:`radclass.taxonomy.SEQUENCES`, ``AX``/``COR``/``SAG``/``OBL``).
    rng:
        Source of all randomness (protocol, head, artefacts, UIDs).
    protocol, subject, study:
        Reuse a protocol / simulated head / study (patient, UIDs, scanner); drawn when None.
    max_slices, max_matrix, max_volumes:
        Size caps (None: as the protocol says) — see the module docstring.
    """
    study = study or sample_study_info(rng)
    if protocol is None:
        protocol = sample_protocol(
            sequence, rng, vendor=study.vendor, field_strength=study.field_strength, orientation=orientation
        )
    subject = subject or sample_subject(rng, protocol.field_strength)
    stack = _series_stack(protocol, orientation, rng, max_slices=max_slices, max_matrix=max_matrix)
    series_uid = _uid(rng)
    folder = Path(out_dir) / _folder_name(series_number, protocol.series_description)
    folder.mkdir(parents=True, exist_ok=True)
    base = _header(protocol, study, series_uid, series_number, stack)
    n_volumes = max(1, min(protocol.n_volumes, max_volumes))
    instance = 0
    for volume, vol_protocol in enumerate(_volume_protocols(protocol, n_volumes)):
        pixels = render_stack(vol_protocol, stack, subject, rng)
        for index in range(len(stack.offsets)):
            instance += 1
            ds = _slice_dataset(base, stack, index, pixels[index], instance, volume, n_volumes, vol_protocol, rng)
            _save(ds, folder / f"IM{instance:05d}.dcm")
    return WrittenSeries(path=folder, series_uid=series_uid, protocol=protocol, n_files=instance)


def sample_specs(n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """``n`` random (sequence, orientation) pairs: every class alike, each in one of its usual planes."""
    from radclass.simulate.protocols import PLANE_WEIGHTS
    from radclass.taxonomy import ORIENTATIONS, SEQUENCES

    specs: list[tuple[str, str]] = []
    for _ in range(n):
        sequence = SEQUENCES[int(rng.integers(len(SEQUENCES)))]
        weights = np.asarray(PLANE_WEIGHTS[sequence])
        specs.append((sequence, ORIENTATIONS[int(rng.choice(len(ORIENTATIONS), p=weights / weights.sum()))]))
    return specs


def write_study(
    out_dir: Path,
    specs: list[tuple[str, str]] | None,
    seed: int,
    *,
    truth_csv: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    **series_kwargs: Any,
) -> pd.DataFrame:
    """Write a study of one simulated subject: one folder per (sequence, orientation) in ``specs``.

    ``specs`` None writes :data:`DEFAULT_STUDY` (11 series, 10 sequence types, three planes). Writes the truth
    table to ``truth_csv`` (default ``out_dir/truth.csv``) and returns it: ``path`` (series folder),
    ``sequence``, ``orientation``, ``contrast``, plus ``series_uid``, ``series_description``, ``vendor``,
    ``field_strength``, ``image``, ``n_files``. ``progress(done, total)`` is called after each series; extra
    keyword arguments go to :func:`write_series` (e.g. ``max_slices``).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    study = sample_study_info(rng)
    subject = sample_subject(rng, study.field_strength)
    specs = list(specs or DEFAULT_STUDY)
    rows = []
    for number, (sequence, orientation) in enumerate(specs, start=1):
        written = write_series(
            out_dir, sequence, orientation, rng, subject=subject, study=study, series_number=number, **series_kwargs
        )
        if progress:
            progress(number, len(specs))
        p = written.protocol
        rows.append(
            {
                "path": str(written.path),
                "sequence": sequence,
                "orientation": orientation,
                "contrast": p.contrast,
                "series_uid": written.series_uid,
                "series_description": p.series_description,
                "vendor": p.vendor,
                "field_strength": p.field_strength,
                "image": p.image,
                "n_files": written.n_files,
            }
        )
    truth = pd.DataFrame(rows)
    truth.to_csv(truth_csv or out_dir / "truth.csv", index=False)
    return truth
