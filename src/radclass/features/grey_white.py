"""Grey against white matter inside a fluid-dark brain volume, read from its pixels: T1 or FLAIR (issue #12).

A T1-weighted volume and a FLAIR both show cerebrospinal fluid dark (:mod:`radclass.features.fluid` cannot tell
them apart); what every site shares is the order of the two parenchymal tissues: white matter is the brightest
tissue of a T1 (grey matter darker), and darker than grey matter on a FLAIR (whose white-matter lesions are
brighter still). Deep inside the brain mask, the parenchyma is mostly white matter with deep grey matter, so the
white-matter peak of the histogram has its shoulder *below* it on a T1 and *above* it on a FLAIR.
:func:`grey_white_measure` reads that asymmetry as Bowley's quartile skewness of the deep parenchyma: negative on a
T1, positive on a FLAIR. The parenchyma is the voxels from 0.7x to 1.95x the deep histogram's mode (fluid below,
vessels and the brightest lesions above are left out), so a bright CSF (a T2) or a contrast agent move it little;
the bundle's ``grey_white_contrast`` table applies it only to a volume whose fluid reading is dark.

Readings (:data:`MEASURES`), chosen among on inner dataset folds by :mod:`radclass.training.grey_white`:

* ``deep4_skew``: the skewness of the parenchyma 4 voxels (of the 128^3 cube) or more inside the mask;
* ``deep6_skew``: the same, 6 voxels or more inside.

Measured on the same brain mask and offset-free intensities as the fluid reading
(:func:`radclass.features.brain_readings.brain_readings`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: The readings of :func:`grey_white_measure`, by name: the depth (cube voxels) from which the parenchyma is read.
MEASURES: dict[str, int] = {"deep4_skew": 4, "deep6_skew": 6}
_PARENCHYMA = (0.7, 1.95)  # fractions of the deep histogram's mode: fluid below, vessels and bright lesions above
_HISTOGRAM = (0.3, 2.0, 100)  # range (fractions of the brain's median) and bins of the mode's histogram
_SMOOTH_BINS = 2.0
_MIN_VOXELS = 500


def _mode(values: np.ndarray) -> float:
    """The mode of ``values`` (fractions of the brain's median), from a smoothed histogram."""
    low, high, bins = _HISTOGRAM
    counts, edges = np.histogram(values, bins=int(bins), range=(low, high))
    smooth = ndimage.gaussian_filter1d(counts.astype(float), _SMOOTH_BINS)
    best = int(np.argmax(smooth))
    return float((edges[best] + edges[best + 1]) / 2)


def grey_white_measure(values: np.ndarray, depth: np.ndarray, measure: str) -> float:
    """One reading (:data:`MEASURES`) of brain voxel ``values`` (offset removed) whose distances to the mask's
    edge are ``depth`` (cube voxels): below 0 where grey matter is darker than white (T1), above where brighter
    (FLAIR).

    Raises
    ------
    ValueError
        When ``measure`` is unknown, or the mask holds too little deep parenchyma to read.
    """
    if measure not in MEASURES:
        raise ValueError(f"Unknown grey/white measure {measure!r}; expected one of {', '.join(MEASURES)}.")
    median = float(np.median(values))
    if not median > 0:
        raise ValueError("the brain's median intensity is not positive")
    deep = values[depth >= MEASURES[measure]] / median
    if len(deep) < _MIN_VOXELS:
        raise ValueError("the brain mask holds too little deep tissue to read grey against white matter")
    mode = _mode(deep)
    parenchyma = deep[(deep > _PARENCHYMA[0] * mode) & (deep < _PARENCHYMA[1] * mode)]
    if len(parenchyma) < _MIN_VOXELS:
        raise ValueError("the brain mask holds too little deep parenchyma to read grey against white matter")
    q1, q2, q3 = np.percentile(parenchyma, (25, 50, 75))
    if not q3 - q1 > 0:
        raise ValueError("the deep parenchyma's intensities have no spread to read")
    return float((q3 + q1 - 2 * q2) / (q3 - q1))
