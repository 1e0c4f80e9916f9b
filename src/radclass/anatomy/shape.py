"""The pixel fallback of the anatomy gate: does the imaged object look like a head, measured in millimetres?

A head scan holds one island of tissue surrounded by air inside the field of view (only the neck leaves it, at
one edge, on sagittal and coronal slices), its largest slice 120-280 mm across, and on axial slices it is longer
front to back than side to side (the cephalic index, breadth/length, is 0.75-0.9 in adults). Body scans mostly
break one of these: the trunk, a limb or the spine runs out of the field of view on two or more sides, the object
is smaller or larger than any head (a spine crop, an abdomen), or an axial section is wider than it is deep
(neck, trunk). The foreground of a slice is the largest connected region
above :data:`FOREGROUND_LEVEL` of the 99th intensity percentile, holes filled (see :func:`measure_series`).

The limits come from head dimensions, not from the body series; they were checked on the pool's DICOM brain
series. The confusion on the NIfTI brain and body volumes and on synthetic body-like inputs is reported in
``docs/integration.md`` (anatomy gate); in short, an axial neck or a small-field pelvis can pass for a head.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from radclass.features.morphology import fill_holes

#: Largest extent (mm) of a head's largest slice.
HEAD_EXTENT_MM: tuple[float, float] = (120.0, 280.0)
#: Most image sides a head may leave the field of view at (the neck, on sagittal and coronal slices).
MAX_SIDES = 1
#: Smallest front-to-back / side-to-side ratio of an axial head section (1 / a cephalic index of about 1).
MIN_AXIAL_ASPECT = 0.95
#: Largest such ratio: human cephalic indices lie above about 0.7 (a head at most 1.4 times as deep as wide), so
#: a section 1.6 times as deep as wide is no head (a cervical spine and neck cut front to back).
MAX_AXIAL_ASPECT = 1.6
#: A side counts as left when this fraction of its length is foreground.
SIDE_FRACTION = 0.10
#: Foreground: above this fraction of the 99th intensity percentile.
FOREGROUND_LEVEL = 0.10
#: Smallest foreground, as a fraction of the slice, worth measuring.
MIN_FOREGROUND = 0.01
#: Largest foreground fraction of a measurable slice (above it there is no outline to measure).
MAX_FILL = 0.90
#: A foreground whose bounding box covers this fraction of the slice along both axes shows no outline either:
#: the tissue may go on beyond the field of view (a small-field pelvis or knee whose edges the receive coil leaves
#: dark). A head is imaged with air around it on at least one axis.
MAX_SPAN = 0.97
#: The 4-neighbour cross, ``ndimage.label``'s default structure in 2D (made once, not on every call).
_CROSS = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class SliceShape:
    """The measured foreground of one slice (rows run top to bottom of the displayed slice)."""

    extent_mm: tuple[float, float]  # bounding box of the foreground: (rows, columns) in mm
    sides_touched: int  # image sides along which the foreground leaves the field of view
    fill: float  # foreground fraction of the slice
    spans_field: bool = False  # the foreground's box covers MAX_SPAN of the slice along both axes

    @property
    def aspect(self) -> float:
        """Row extent over column extent (front-to-back over side-to-side on an axial slice)."""
        return self.extent_mm[0] / self.extent_mm[1]


@dataclass(frozen=True)
class ShapeVerdict:
    """The series-level answer of the shape measure."""

    head_like: bool
    largest: SliceShape
    measured: int
    median_sides: float
    why: str

    @property
    def reason(self) -> str:
        """A sentence for a person: what was measured."""
        e = self.largest
        return (
            f"largest of {self.measured} measured slices {e.extent_mm[0]:.0f} x {e.extent_mm[1]:.0f} mm, the "
            f"foreground leaving the field of view on a median {self.median_sides:g} sides: {self.why}"
        )


def foreground(image: np.ndarray) -> np.ndarray | None:
    """The largest connected region above :data:`FOREGROUND_LEVEL` of the 99th percentile, holes filled;
    None for an empty slice."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2 or min(image.shape) < 8:
        return None
    low = image.min()
    if not (np.isfinite(low) and np.isfinite(image.max())):  # NaN propagates through min
        image = np.nan_to_num(image)
        low = image.min()
    image = image - float(low)
    top = percentile_99(image)
    if top <= 0:
        return None
    mask = _opening(image > FOREGROUND_LEVEL * top)
    labels, n = ndimage.label(mask, _CROSS)
    if n == 0:
        return None
    if n == 1:  # the one region is the mask
        return fill_holes(mask)
    if n <= 8:  # pixels per region; np.bincount's passes cost more on a large slice with few regions
        sizes = np.array([np.count_nonzero(labels == i) for i in range(1, n + 1)])
    else:
        sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    return fill_holes(labels == (int(np.argmax(sizes)) + 1))


def percentile_99(image: np.ndarray) -> float:
    """``float(np.percentile(image, 99))`` of a finite float32 array, bit for bit, without its set-up.

    numpy's default (``linear``) method: the order statistics around the virtual index ``0.99 * (n - 1)``
    (one ``np.partition``), interpolated in float32 from the nearer one as numpy's ``_lerp`` does
    (``tests/test_anatomy.py`` checks it against ``np.percentile``).
    """
    flat = image.ravel()
    virtual = (flat.size - 1) * (99 / 100)
    below = math.floor(virtual)
    if below >= flat.size - 1:  # one value
        return float(flat[-1])
    ordered = np.partition(flat, (below, below + 1))
    a, b = ordered[below], ordered[below + 1]
    gamma = virtual - below
    diff = b - a
    return float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)


# The opening of foreground(), written for a 2D mask and the 4-neighbour cross: the same result as
# ndimage.binary_opening(mask, iterations=1) (tests/test_anatomy.py checks it against scipy), without its per-call
# overhead (the slices measured are mostly small). The hole filling is radclass.features.morphology.fill_holes.


def _opening(mask: np.ndarray) -> np.ndarray:
    """Erosion then dilation by the 4-neighbour cross, outside the image counted as background."""
    eroded = mask.copy()
    eroded[1:] &= mask[:-1]
    eroded[:-1] &= mask[1:]
    eroded[:, 1:] &= mask[:, :-1]
    eroded[:, :-1] &= mask[:, 1:]
    eroded[[0, -1]] = False
    eroded[:, [0, -1]] = False
    out = eroded.copy()
    out[1:] |= eroded[:-1]
    out[:-1] |= eroded[1:]
    out[:, 1:] |= eroded[:, :-1]
    out[:, :-1] |= eroded[:, 1:]
    return out


def measure_slice(image: np.ndarray, spacing_mm: Sequence[float]) -> SliceShape | None:
    """The foreground measures of one slice with pixel spacing ``(row, column)`` in mm; None if empty."""
    mask = foreground(image)
    if mask is None:
        return None
    # Fractions as count / size: the value of a boolean array's mean, without its reduction machinery.
    fill = int(np.count_nonzero(mask)) / mask.size
    if fill < MIN_FOREGROUND:
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    extent = ((rows[-1] - rows[0] + 1) * float(spacing_mm[0]), (cols[-1] - cols[0] + 1) * float(spacing_mm[1]))
    sides = sum(
        np.count_nonzero(edge) / edge.size > SIDE_FRACTION for edge in (mask[0], mask[-1], mask[:, 0], mask[:, -1])
    )
    spans = rows[-1] - rows[0] + 1 >= MAX_SPAN * mask.shape[0] and cols[-1] - cols[0] + 1 >= MAX_SPAN * mask.shape[1]
    return SliceShape(extent_mm=extent, sides_touched=int(sides), fill=fill, spans_field=bool(spans))


def measure_series(slices: Sequence[np.ndarray], spacing_mm: Sequence[float], axial: bool) -> ShapeVerdict | None:
    """Judge a series from its measurable slices (``axial``: the slices are axial, rows front to back).

    Size and axial aspect are those of the largest measurable slice, the sides the median over them. A slice
    whose foreground fills more than :data:`MAX_FILL` of it (noise, a winsorised background, tissue across the
    whole field of view) or spans it along both axes (:data:`MAX_SPAN`) shows no outline and is not measured;
    None when no slice is measurable.
    """
    measured = [
        m
        for m in (measure_slice(s, spacing_mm) for s in slices)
        if m is not None and m.fill <= MAX_FILL and not m.spans_field
    ]
    if not measured:
        return None
    largest = max(measured, key=lambda m: max(m.extent_mm))
    size = max(largest.extent_mm)
    sides = float(np.median([m.sides_touched for m in measured]))
    lo, hi = HEAD_EXTENT_MM
    if not lo <= size <= hi:
        why = f"{'smaller' if size < lo else 'larger'} than a head ({lo:.0f}-{hi:.0f} mm)"
    elif sides > MAX_SIDES:
        why = f"a head leaves the field of view on at most {MAX_SIDES} side"
    elif axial and largest.aspect < MIN_AXIAL_ASPECT:
        why = f"wider than deep (ratio {largest.aspect:.2f}; an axial head section is at least {MIN_AXIAL_ASPECT})"
    elif axial and largest.aspect > MAX_AXIAL_ASPECT:
        why = f"deeper than wide (ratio {largest.aspect:.2f}; an axial head section is at most {MAX_AXIAL_ASPECT})"
    else:
        return ShapeVerdict(True, largest, len(measured), sides, "head-shaped")
    return ShapeVerdict(False, largest, len(measured), sides, why)
