"""Thumbnails: the middle slice of a series (or middle frame of a multi-frame instance) as a PNG."""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

#: Headers read at most to order the slices of a series; beyond that, file names order them.
MAX_SORTED = 400


def _position(path: Path) -> tuple[float, float, str]:
    """Sort key of a slice: position along the slice normal, else InstanceNumber, then name."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=[
            "ImagePositionPatient", "ImageOrientationPatient", "InstanceNumber"])
    except Exception:
        return (0.0, 0.0, path.name)
    number = float(ds.get("InstanceNumber", 0) or 0)
    if "ImagePositionPatient" in ds and "ImageOrientationPatient" in ds:
        iop = np.asarray(ds.ImageOrientationPatient, dtype=float)
        normal = np.cross(iop[:3], iop[3:])
        return (float(np.dot(normal, np.asarray(ds.ImagePositionPatient, dtype=float))), number, path.name)
    return (number, 0.0, path.name)


def middle_file(files: Sequence[Path]) -> Path:
    """The file holding the middle slice of a series."""
    files = sorted(Path(f) for f in files)
    if len(files) <= MAX_SORTED:
        files = sorted(files, key=_position)
    return files[len(files) // 2]


def to_uint8(pixels: np.ndarray, photometric: str = "MONOCHROME2") -> np.ndarray:
    """Scale one frame to 8 bits (robust 0.5-99.5 percentile window); RGB frames are passed through."""
    if pixels.ndim == 3 and pixels.shape[-1] in (3, 4):
        return np.clip(pixels, 0, 255).astype(np.uint8) if pixels.dtype != np.uint8 else pixels
    data = pixels.astype(np.float32)
    lo, hi = np.percentile(data, [0.5, 99.5]) if data.size else (0.0, 1.0)
    scaled = np.clip((data - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    if photometric == "MONOCHROME1":
        scaled = 1.0 - scaled
    return (scaled * 255).astype(np.uint8)


def render_png(path: Path, size: int = 256) -> bytes:
    """PNG of the middle frame of one DICOM file, fitted into ``size`` x ``size``."""
    from radclass.io.codecs import register

    register()
    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        pixels = pixels[frames // 2]
    image = Image.fromarray(to_uint8(pixels, str(ds.get("PhotometricInterpretation", "MONOCHROME2"))))
    image.thumbnail((size, size))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@lru_cache(maxsize=256)
def series_thumbnail(files: tuple[str, ...], size: int = 256) -> bytes:
    """PNG of the middle slice of the series made of ``files`` (cached)."""
    existing = [Path(f) for f in files if Path(f).is_file()]
    if not existing:
        raise FileNotFoundError("no file of this series is readable")
    return render_png(middle_file(existing), size)
