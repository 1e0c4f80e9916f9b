"""Read one 2D image (PNG/JPEG, DICOM or NIfTI) as a float array and say what its values are (numpy only).

The pixels come from the project's pixel reader (:func:`radclass.io.pixels.read_file_slice`); this module
decides what the diagnostic preprocessing may do with them.

``kind`` tells the preprocessing what can be done with the values:

* ``"hu"``: CT Hounsfield units (DICOM with Modality CT; a NIfTI whose values reach below -500, i.e. air at
  about -1000 HU): any window can be applied, including the 3-channel multi-window input.
* ``"display"``: 8/16-bit display images (PNG/JPEG). They were **already windowed** by whoever exported them,
  so the original HU are lost: re-windowing and the multi-window input are impossible. Values are in [0, 1].
* ``"intensity"``: anything else (MR, non-CT DICOM, NIfTI without HU), scaled by its 1st-99th percentiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radclass.io.pixels import (
    NIFTI_SUFFIXES,
    RASTER_SUFFIXES,
    FileSlice,
    PixelReadError,
    file_suffix,
    read_file_slice,
)

__all__ = ["IMAGE_SUFFIXES", "ImageReadError", "SliceImage", "find_images", "is_image_file", "read_image"]

#: File name endings read as images (anything else is tried as DICOM when it starts with a DICOM preamble).
IMAGE_SUFFIXES = RASTER_SUFFIXES + NIFTI_SUFFIXES + (".dcm", ".dicom", ".ima")


class ImageReadError(Exception):
    """An image cannot be read; the message is a reason for a person."""


@dataclass(frozen=True)
class SliceImage:
    """A 2D slice: ``pixels`` (H, W) float32 and their ``kind`` (``hu``, ``display`` or ``intensity``)."""

    pixels: np.ndarray
    kind: str


def _kind(image: FileSlice) -> SliceImage:
    """What the values of a slice are: display levels in [0, 1], HU (CT DICOM; a NIfTI reaching below -500,
    i.e. air at about -1000 HU), or other intensities."""
    if image.full_scale is not None:
        return SliceImage(image.pixels / np.float32(image.full_scale), "display")
    if image.format == "dicom":
        return SliceImage(image.pixels, "hu" if image.modality == "CT" else "intensity")
    return SliceImage(image.pixels, "hu" if float(image.pixels.min(initial=0)) < -500 else "intensity")


def _percentile_unit(pixels: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(pixels, [1, 99])
    return np.clip((pixels - lo) / (hi - lo), 0, 1).astype(np.float32) if hi > lo else np.zeros_like(pixels)


def read_image(path: Path | str, *, slice_index: int | None = None) -> SliceImage:
    """Read ``path`` as a 2D slice. NIfTI volumes give their axial slice ``slice_index`` (default: middle).

    ``intensity`` images are returned scaled to [0, 1] by their 1st-99th percentiles.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    if not is_image_file(path):
        raise ImageReadError(f"{path.name}: not an image file (PNG/JPEG, DICOM or NIfTI expected)")
    try:
        image = _kind(read_file_slice(path, index=slice_index))
    except PixelReadError as err:
        raise ImageReadError(f"{path.name}: unreadable image ({err})") from None
    except Exception as err:  # noqa: BLE001 - any decoder failure becomes a reason
        raise ImageReadError(f"{path.name}: unreadable image ({type(err).__name__}: {err})") from None
    if image.kind == "display":
        return image
    if image.pixels.ndim != 2 or min(image.pixels.shape) < 2:
        raise ImageReadError(f"{path.name}: not a 2D image (shape {image.pixels.shape})")
    if image.kind == "intensity":
        return SliceImage(_percentile_unit(image.pixels), "intensity")
    return image


def is_image_file(path: Path) -> bool:
    """True for files with an image suffix, and for other files starting with a DICOM preamble."""
    if file_suffix(path) in IMAGE_SUFFIXES:
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(132)[128:132] == b"DICM"
    except OSError:
        return False


def find_images(paths: list[Path] | tuple[Path, ...]) -> list[Path]:
    """Files given directly, plus the image files found under given folders (sorted, hidden files skipped)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".") and is_image_file(f))
        else:
            found.append(p)
    return found
