"""Single-file series: NIfTI volumes (with an optional BIDS/dcm2niix JSON sidecar) and 2D PNG/JPEG images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from radclass.io.geometry import plane_of_affine
from radclass.io.series import Series
from radclass.taxonomy import Flag, Plane, SeriesFlag

# dcm2niix/BIDS sidecar key -> (series header column, factor to the DICOM unit)
_SIDECAR_KEYS: dict[str, tuple[str, float]] = {
    "RepetitionTime": ("repetition_time", 1000.0),  # BIDS seconds -> DICOM milliseconds
    "EchoTime": ("echo_time", 1000.0),
    "InversionTime": ("inversion_time", 1000.0),
    "FlipAngle": ("flip_angle", 1.0),
    "EchoTrainLength": ("echo_train_length", 1.0),
    "SliceThickness": ("slice_thickness", 1.0),
    "MagneticFieldStrength": ("field_strength", 1.0),
}
_SIDECAR_TEXT: dict[str, str] = {
    "Modality": "modality",
    "Manufacturer": "manufacturer",
    "ManufacturersModelName": "model",
    "SeriesDescription": "series_description",
    "ProtocolName": "protocol_name",
    "StudyDescription": "study_description",
    "BodyPartExamined": "body_part",
    "ScanningSequence": "scanning_sequence",
    "SequenceVariant": "sequence_variant",
    "ScanOptions": "scan_options",
    "SequenceName": "sequence_name",
    "MRAcquisitionType": "mr_acquisition_type",
    "ImageType": "image_type",
    "SeriesInstanceUID": "series_uid",
    "StudyInstanceUID": "study_uid",
}


class VolumeReadError(Exception):
    """A NIfTI or image file that cannot be read; the message is a reason for a person."""


def sidecar_of(nifti: Path) -> Path:
    """The JSON sidecar path a NIfTI file would have (``x.nii.gz`` -> ``x.json``)."""
    name = nifti.name
    stem = name[:-7] if name.endswith(".nii.gz") else name[:-4] if name.endswith(".nii") else nifti.stem
    return nifti.with_name(stem + ".json")


def nifti_series(path: Path, sidecar: Path | None) -> Series:
    """Describe a NIfTI file from its header (and sidecar); no voxel data is read."""
    import nibabel as nib

    try:
        img: Any = nib.load(str(path))  # a NIfTI SpatialImage; nibabel types load() as FileBasedImage
        shape = tuple(int(s) for s in img.shape)
        zooms = tuple(float(z) for z in img.header.get_zooms())
        affine = np.asarray(img.affine, dtype=float)
        slice_axis = img.header.get_dim_info()[2] if hasattr(img.header, "get_dim_info") else None
    except Exception as err:
        raise VolumeReadError(f"unreadable NIfTI ({type(err).__name__}: {err})") from None
    if len(shape) < 2 or min(shape[:2]) < 2:
        raise VolumeReadError(f"NIfTI with no 2D image content (shape {shape})")
    header: dict[str, Any] = dict.fromkeys(("repetition_time", "echo_time", "inversion_time"))
    header.update(
        modality="MR",
        orientation=plane_of_affine(affine, zooms + (1.0,) * (3 - len(zooms)), slice_axis),
        rows=shape[1],
        columns=shape[0],
        pixel_spacing="\\".join(f"{z:g}" for z in zooms[:2]),
        slice_thickness=zooms[2] if len(zooms) > 2 else None,
        temporal_positions=shape[3] if len(shape) > 3 else None,
        acquisition="",
    )
    uid = ""
    flags: list[SeriesFlag] = []
    files = [str(path)]
    if sidecar is not None:
        files.append(str(sidecar))
        try:
            meta = json.loads(sidecar.read_text())
            uid = _apply_sidecar(header, meta)
        except (OSError, ValueError) as err:
            flags.append(Flag.SIDECAR_UNREADABLE.note(type(err).__name__))
    if header.get("mr_acquisition_type") in ("2D", "3D"):
        header["acquisition"] = header["mr_acquisition_type"]
    n_frames = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return Series(
        path=str(path),
        format="nifti",
        series_uid=uid or str(path),
        files=files,
        header=header,
        n_frames=n_frames,
        flags=tuple(flags),
    )


def _apply_sidecar(header: dict[str, Any], meta: dict[str, Any]) -> str:
    for key, (column, factor) in _SIDECAR_KEYS.items():
        value = meta.get(key)
        if isinstance(value, (int, float)):
            header[column] = float(value) * factor
    for key, column in _SIDECAR_TEXT.items():
        value = meta.get(key)
        if isinstance(value, list):
            value = "\\".join(str(v).upper() for v in value)
        if value not in (None, ""):
            header[column] = str(value)
    b = meta.get("DiffusionBValue") or meta.get("bval")
    if isinstance(b, (int, float)):
        header["b_values"] = f"{b:g}"
    return str(header.pop("series_uid", "") or "")


def image_series(path: Path) -> Series:
    """Describe a PNG/JPEG file as a one-slice series."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            width, height = im.size
            mode = im.mode
            im.verify()
    except Exception as err:
        raise VolumeReadError(f"unreadable image ({type(err).__name__}: {err})") from None
    header = {
        "modality": "",
        "orientation": Plane.NA,
        "rows": height,
        "columns": width,
        "photometric": "RGB" if mode.startswith("RGB") else "MONOCHROME2",
        "acquisition": "",
    }
    return Series(path=str(path), format="image", series_uid=str(path), files=[str(path)], header=header)
