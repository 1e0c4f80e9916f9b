"""Diffusion weighting of a time series, read from its frames: DWI or not (issue #12).

A series of several volumes with no acquisition header is diffusion, BOLD, perfusion, a field map or a multi-echo
acquisition, and nothing but its frames tells which. Diffusion leaves a signature that every site shares:

* **attenuation**: the diffusion-weighted frames are much darker than the unweighted (b = 0) one. Tissue keeps
  ``exp(-b ADC)`` of its signal, about 0.4-0.6 for parenchyma at b = 1000 s/mm^2. BOLD, ASL control/label pairs
  and field-map echoes change the head's mean by a few per cent; a bolus passage by a few tens;
* **free water falls furthest**: the brightest voxels of the b = 0 frame are free water (CSF, oedema, a bladder's
  urine), whose diffusion is the fastest (ADC about 3e-3 mm^2/s: ``exp(-3)`` at b = 1000), so in the weighted
  frames they keep a smaller share of their signal than the middle of the head does. Echo decay does the
  opposite (free water's T2 is the longest), and so does an ASL series whose first frame is its M0 image.

:func:`diffusion_reading` measures both inside the head mask of the reference (brightest) frame; the bundle's
``diffusion_test`` table (:class:`radclass.models.bundle.DiffusionTest`) calls DWI from them
(:func:`radclass.models.decision.diffusion_decision`). Pure numpy; the frames come from
:func:`radclass.io.pixels.load_frames`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radclass.features.morphology import otsu_threshold

#: A frame whose head mean is at most this share of the reference frame's is diffusion-weighted (b >= ~500
#: s/mm^2). A physical prior, not fitted (docs/pixel_model.md).
WEIGHTED_BELOW = 0.6
#: The reference frame's brightest voxels of the head (free water) and its middle ones (parenchyma), as quantiles.
FREE_WATER_FROM = 0.95
MIDDLE = (0.3, 0.7)
_MIN_HEAD_VOXELS = 500
_MAX_NEGATIVE = 0.01  # share of negative voxels above which the frames are signed (phase, real/imaginary)


@dataclass(frozen=True)
class DiffusionReading:
    """What :func:`diffusion_reading` measured of a time series.

    Parameters
    ----------
    volumes
        The frames read.
    reference
        Index of the reference frame (the brightest head: b = 0 in a diffusion series).
    weighted
        How many frames are darker than :data:`WEIGHTED_BELOW` of the reference (diffusion-weighted ones).
    attenuation
        The weighted frames' mean head signal over the reference's; the darkest other frame's where none is
        weighted.
    free_water
        Among the weighted frames (their mean), the share of its signal that the reference's brightest head voxels
        keep over the share its middle voxels keep; None where no frame is weighted.
    """

    volumes: int
    reference: int
    weighted: int
    attenuation: float
    free_water: float | None

    def __post_init__(self) -> None:
        if self.volumes < 2:
            raise ValueError(f"A diffusion reading needs two frames or more, not {self.volumes}.")
        if not 0 <= self.reference < self.volumes or not 0 <= self.weighted < self.volumes:
            raise ValueError(
                f"A reading of {self.volumes} frames cannot have reference frame {self.reference} and "
                f"{self.weighted} weighted frames."
            )


def diffusion_reading(frames: np.ndarray) -> DiffusionReading:
    """The attenuation and free-water readings of ``frames`` (shape (volumes, ...), one frame per first index).

    Raises
    ------
    ValueError
        Fewer than two frames, a constant reference frame, a head of fewer than 500 voxels, or signed frames
        (more than 1% of the voxels negative: phase or real/imaginary images, whose means say nothing of
        diffusion).
    """
    frames = np.asarray(frames)
    if frames.ndim < 2 or len(frames) < 2:
        raise ValueError(f"a diffusion reading needs two frames or more, not shape {frames.shape}")
    flat = frames.reshape(len(frames), -1).astype(np.float32, copy=False)
    if not np.isfinite(flat).all():
        flat = np.nan_to_num(flat)
    reference = int(np.argmax(flat.mean(axis=1)))
    ref = flat[reference]
    top = float(np.quantile(ref, 0.99))
    if not top > float(ref.min()):
        raise ValueError("the reference frame is constant: no head to measure")
    head = ref > otsu_threshold(np.clip(ref, None, top))
    if int(head.sum()) < _MIN_HEAD_VOXELS:
        raise ValueError(f"the head holds {int(head.sum())} voxels, fewer than {_MIN_HEAD_VOXELS}")
    if float(np.count_nonzero(flat < 0)) > _MAX_NEGATIVE * flat.size:
        raise ValueError("the frames hold signed values (phase or real/imaginary images), not magnitudes")
    means = flat @ head.astype(np.float32) / float(head.sum())  # each frame's mean head signal
    share = means / means[reference]
    others = np.delete(np.arange(len(frames)), reference)
    weighted = others[share[others] <= WEIGHTED_BELOW]
    if len(weighted) == 0:
        return DiffusionReading(len(frames), reference, 0, float(share[others].min()), None)
    base = ref[head]
    mix = np.zeros(len(frames), np.float32)
    mix[weighted] = 1.0 / len(weighted)
    kept = (mix @ flat)[head] / np.maximum(base, 1e-6)  # the weighted frames' mean (no copy of them), per voxel
    bright = base >= np.quantile(base, FREE_WATER_FROM)
    low, high = np.quantile(base, MIDDLE)
    middle = (base > low) & (base < high)
    free_water = float(np.median(kept[bright]) / max(float(np.median(kept[middle])), 1e-6))
    return DiffusionReading(len(frames), reference, len(weighted), float(share[weighted].mean()), free_water)
