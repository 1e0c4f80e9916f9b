"""Single-file series: NIfTI volumes (with an optional BIDS/dcm2niix JSON sidecar) and 2D PNG/JPEG images."""

from __future__ import annotations

import json
import re
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


# dcm2niix writes the echo time into the NIfTI ``descrip`` field ("TE=30;Time=140149.418;phase=1") and the
# repetition time into pixdim[4]; a header with that signature keeps both even without its JSON sidecar.
_DCM2NIIX_DESCRIP = re.compile(r"^TE=([0-9.eE+-]+);(?:Time|sec)=")
# NIfTI xyzt_units time codes (bits 3-5) -> factor to milliseconds
_TIME_UNITS_MS = {8: 1000.0, 16: 1.0, 24: 0.001}


class VolumeReadError(Exception):
    """A NIfTI or image file that cannot be read; the message is a reason for a person."""


def sidecar_of(nifti: Path) -> Path:
    """The JSON sidecar path a NIfTI file would have (``x.nii.gz`` -> ``x.json``)."""
    name = nifti.name
    stem = name[:-7] if name.endswith(".nii.gz") else name[:-4] if name.endswith(".nii") else nifti.stem
    return nifti.with_name(stem + ".json")


def companions_of(nifti: Path) -> tuple[Path, ...]:
    """The files that belong to a NIfTI volume when they lie beside it: its JSON sidecar, ``.bval`` and ``.bvec``,
    and for the header of a NIfTI pair (``x.hdr``) its voxels (``x.img``)."""
    sidecar = sidecar_of(nifti)
    found = (sidecar, sidecar.with_suffix(".bval"), sidecar.with_suffix(".bvec"))
    return (*found, nifti.with_suffix(".img")) if nifti.name.lower().endswith(".hdr") else found


def nifti_series(path: Path, sidecar: Path | None) -> Series:
    """Describe a NIfTI file from its header (and sidecar); no voxel data is read.

    Without a sidecar, the acquisition timing a converter kept in the NIfTI header itself is read: dcm2niix's
    ``TE=`` in ``descrip`` with the TR in pixdim[4], and the b-values of a ``.bval`` file beside the volume.
    A sidecar's values take precedence.
    """
    import nibabel as nib

    try:
        img: Any = nib.load(str(path))  # a NIfTI SpatialImage; nibabel types load() as FileBasedImage
        shape = tuple(int(s) for s in img.shape)
        zooms = tuple(float(z) for z in img.header.get_zooms())
        affine = np.asarray(img.affine, dtype=float)
        slice_axis = img.header.get_dim_info()[2] if hasattr(img.header, "get_dim_info") else None
        timing = _header_timing(img.header)
    except Exception as err:
        raise VolumeReadError(f"unreadable NIfTI ({type(err).__name__}: {err})") from None
    if len(shape) < 2 or min(shape[:2]) < 2:
        raise VolumeReadError(f"NIfTI with no 2D image content (shape {shape})")
    header: dict[str, Any] = dict.fromkeys(("repetition_time", "echo_time", "inversion_time"))
    header.update(
        modality="MR",
        orientation=plane_of_affine(
            affine, zooms + (1.0,) * (3 - len(zooms)), slice_axis, shape + (1,) * (3 - len(shape))
        ),
        rows=shape[1],
        columns=shape[0],
        pixel_spacing="\\".join(f"{z:g}" for z in zooms[:2]),
        slice_thickness=zooms[2] if len(zooms) > 2 else None,
        temporal_positions=shape[3] if len(shape) > 3 else None,
        acquisition="",
    )
    header.update(timing)
    uid = ""
    flags: list[SeriesFlag] = []
    files = [str(path)]
    _, bval, bvec, *pair = companions_of(path)
    files += [str(f) for f in (*pair, bval, bvec) if f.is_file()]
    if bval.is_file():
        try:
            header["b_values"] = _b_values(bval.read_text())
        except (OSError, ValueError) as err:
            flags.append(Flag.SIDECAR_UNREADABLE.note(f"{bval.name}: {type(err).__name__}"))
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


def _header_timing(nifti_header: Any) -> dict[str, float]:
    """TE and TR (ms) a dcm2niix NIfTI header carries, or nothing: another writer's pixdim[4] is no TR."""
    if "descrip" not in nifti_header:  # an Analyze or MGH header
        return {}
    text = nifti_header["descrip"].tobytes().split(b"\0")[0].decode("latin-1")
    match = _DCM2NIIX_DESCRIP.match(text.strip())
    if match is None:
        return {}
    out = {"echo_time": float(match.group(1))}
    zooms = nifti_header["pixdim"]
    factor = _TIME_UNITS_MS.get(int(nifti_header["xyzt_units"]) & 0x38, 1000.0)  # dcm2niix writes seconds
    if float(zooms[4]) > 0:
        out["repetition_time"] = round(float(zooms[4]) * factor, 3)
    return out


def _b_values(text: str) -> str:
    """The distinct b-values of a ``.bval`` file, ascending, as a scan row holds them (``0\\1000``)."""
    # per-direction values scatter around the nominal one (995, 1000, 1005): to the nearest 50, as DICOM keeps it
    values = sorted({50 * round(float(v) / 50) for v in text.split()})
    if not values:
        raise ValueError("empty b-value file")
    return "\\".join(f"{b:g}" for b in values)


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
