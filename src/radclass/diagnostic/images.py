"""Read one 2D image (PNG/JPEG, DICOM or NIfTI) as a float array and say what its values are (numpy only).

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

from radclass.diagnostic.hounsfield import dicom_hounsfield

__all__ = ["IMAGE_SUFFIXES", "ImageReadError", "SliceImage", "find_images", "is_image_file", "read_image"]

#: File name endings read as 2D raster images (anything else that is not NIfTI is tried as DICOM).
RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
IMAGE_SUFFIXES = RASTER_SUFFIXES + NIFTI_SUFFIXES + (".dcm", ".dicom", ".ima")


class ImageReadError(Exception):
    """An image cannot be read; the message is a reason for a person."""


@dataclass(frozen=True)
class SliceImage:
    """A 2D slice: ``pixels`` (H, W) float32 and their ``kind`` (``hu``, ``display`` or ``intensity``)."""

    pixels: np.ndarray
    kind: str


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def _raster(path: Path) -> SliceImage:
    from PIL import Image

    with Image.open(path) as im:
        grey = im.convert("I;16" if im.mode.startswith("I;16") else "L")
        arr = np.asarray(grey, dtype=np.float32)
    top = 65535.0 if grey.mode.startswith("I") else 255.0
    return SliceImage(arr / top, "display")


def _nifti(path: Path, index: int | None) -> SliceImage:
    import nibabel as nib

    img = nib.as_closest_canonical(nib.load(str(path)))
    data = np.asarray(img.dataobj, dtype=np.float32)
    data = data.reshape(data.shape[:3]) if data.ndim > 3 and int(np.prod(data.shape[3:])) == 1 else data
    if data.ndim == 4:
        data = data[..., 0]
    if data.ndim == 3:
        k = data.shape[2] // 2 if index is None else index
        data = data[:, :, k]
    pixels = np.rot90(data)[:, ::-1].copy()  # radiological display: anterior up, patient right on the left
    return SliceImage(pixels, "hu" if float(pixels.min(initial=0)) < -500 else "intensity")


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
        suffix = _suffix(path)
        if suffix in RASTER_SUFFIXES:
            return _raster(path)
        if suffix in NIFTI_SUFFIXES:
            image = _nifti(path, slice_index)
        else:
            values, is_ct = dicom_hounsfield(path)
            image = SliceImage(values, "hu" if is_ct else "intensity")
    except Exception as err:  # noqa: BLE001 - any decoder failure becomes a reason
        raise ImageReadError(f"{path.name}: unreadable image ({type(err).__name__}: {err})") from None
    if image.pixels.ndim != 2 or min(image.pixels.shape) < 2:
        raise ImageReadError(f"{path.name}: not a 2D image (shape {image.pixels.shape})")
    if image.kind == "intensity":
        return SliceImage(_percentile_unit(image.pixels), "intensity")
    return image


def is_image_file(path: Path) -> bool:
    """True for files with an image suffix, and for other files starting with a DICOM preamble."""
    if _suffix(path) in IMAGE_SUFFIXES:
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
