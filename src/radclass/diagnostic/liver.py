"""The pool's liver volumes as 2D axial slices with reference liver masks, held-out slice blocks, and honest
slice-level labels derivable from the volumes themselves (numpy + nibabel).

Volumes (``$RADCLASS_DATA/liver``; label values from the pool README):

* ``ircad``: ``ct.nii.gz`` (CT, HU) + ``liver_mask.nii.gz`` (liver = 1);
* ``totalseg-ct``: ``example_ct.nii.gz`` (CT, 3 mm) + ``example_seg_fast_force_split.nii.gz`` (liver = 5);
  ``example_ct_sm.nii.gz`` is a 30-slice crop of this volume (slices 82-111) and is left out to avoid
  counting the same slices twice;
* ``totalseg-mr``: ``example_mr_sm.nii.gz`` (MR) + ``example_seg_mr.nii.gz`` (liver = 5).

The 20-slice DICOM series ``example_ct_dicom`` is not used (its segmentation would need a DICOM-to-NIfTI
geometry match that is not verified here). CT is shown through the abdomen window (W400/L50), MR through
its 1st-99th percentiles. Slices are axial in RAS orientation (index increasing = superior), rotated for
radiological display (anterior up, patient right on the image's left, as DICOM viewers show axial slices).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radclass.diagnostic.hounsfield import apply_window
from radclass.io.pixels import nifti_axial_slices

__all__ = ["LIVER_SOURCES", "LiverVolume", "block_split", "half_labels", "load_liver_volumes", "resize_slices"]

#: name -> (image, segmentation, liver label value, modality), relative to ``<pool>/liver``.
LIVER_SOURCES: dict[str, tuple[str, str, int, str]] = {
    "ircad": ("ircad/ct.nii.gz", "ircad/liver_mask.nii.gz", 1, "CT"),
    "totalseg-ct": ("totalseg/example_ct.nii.gz", "totalseg/example_seg_fast_force_split.nii.gz", 5, "CT"),
    "totalseg-mr": ("totalseg/example_mr_sm.nii.gz", "totalseg/example_seg_mr.nii.gz", 5, "MR"),
}


@dataclass
class LiverVolume:
    """``image`` (Z, H, W) in [0, 1] and ``mask`` (Z, H, W) bool; z increases towards the head."""

    name: str
    path: str
    modality: str
    image: np.ndarray
    mask: np.ndarray


def _display(volume: np.ndarray, modality: str) -> np.ndarray:
    if modality == "CT":
        return apply_window(volume, "abdomen")
    lo, hi = np.percentile(volume, [1, 99])
    return np.clip((volume - lo) / (hi - lo), 0, 1).astype(np.float32) if hi > lo else np.zeros_like(volume)


def load_liver_volumes(root: Path | str, names: tuple[str, ...] | None = None) -> list[LiverVolume]:
    """The liver volumes of the pool (``names`` from :data:`LIVER_SOURCES`, default all)."""
    base = Path(root) / "liver"
    out = []
    for name in names or tuple(LIVER_SOURCES):
        image, seg, value, modality = LIVER_SOURCES[name]
        img, lab = nifti_axial_slices(base / image), nifti_axial_slices(base / seg)
        if img.shape != lab.shape:
            raise ValueError(f"{name}: image {img.shape} and segmentation {lab.shape} differ")
        out.append(LiverVolume(name, f"liver/{image}", modality, _display(img, modality), lab == value))
    return out


def block_split(n: int, block: int = 8, every: int = 5, offset: int = 2, gap: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) slice indices: consecutive blocks of ``block`` slices, every ``every``-th block (starting at
    ``offset``) held out; ``gap`` slices on each side of a held-out block are used by neither side."""
    blocks = np.arange(n) // block
    test = (blocks % every) == (offset % every)
    near = np.zeros(n, bool)
    for i in np.flatnonzero(test).tolist():
        near[max(0, i - gap) : i + gap + 1] = True
    return np.flatnonzero(~test & ~near), np.flatnonzero(test)


def half_labels(mask: np.ndarray, min_fraction: float = 0.02) -> dict[int, str]:
    """Slice index -> ``SUPERIOR`` / ``INFERIOR`` liver half, for slices whose liver area is at least
    ``min_fraction`` of the largest liver slice. The halves split the liver's craniocaudal extent at its middle."""
    area = mask.reshape(mask.shape[0], -1).sum(1)
    if area.max() == 0:
        return {}
    z = np.flatnonzero(area > 0)
    middle = (z[0] + z[-1]) / 2
    keep = np.flatnonzero(area >= min_fraction * area.max())
    return {int(i): ("SUPERIOR" if i > middle else "INFERIOR") for i in keep if i != middle}


def resize_slices(slices: np.ndarray, size: int, *, nearest: bool = False) -> np.ndarray:
    """(N, H, W) -> (N, size, size): padded to square (0), bilinear (or nearest for masks)."""
    from PIL import Image

    out = np.empty((len(slices), size, size), np.float32)
    for i, s in enumerate(slices):
        h, w = s.shape
        side = max(h, w)
        sq = np.zeros((side, side), np.float32)
        sq[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = s
        out[i] = np.asarray(
            Image.fromarray(sq, mode="F").resize(
                (size, size), Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
            ),
            dtype=np.float32,
        )
    return out
