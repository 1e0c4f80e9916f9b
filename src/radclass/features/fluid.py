"""Fluid brightness of a T2-family brain volume, read from its pixels: T2 or FLAIR (issue #12).

A T2-weighted series and a FLAIR share their timing (long TR, long TE): dcm2niix's NIfTI header keeps no
inversion time, so the timing model calls both "T2" (:mod:`radclass.training.timing_model`). Their difference
is physics that every site shares: the inversion pulse of a FLAIR nulls free water, so cerebrospinal fluid
(ventricles, sulci) is the brain's darkest tissue there, and its brightest on a T2. :func:`fluid_contrast`
measures which tail of the brain's intensities is heavier, inside the learned brain mask
(:mod:`radclass.features.brain_mask`): positive on a T2, negative on a FLAIR. Oedema and lesions are bright on
both, so a volume with much of either drifts towards T2; the bundle's ``fluid_contrast`` table keeps a band
around its threshold, chosen on inner folds, where the test abstains (docs/pixel_model.md).

Three readings (:data:`MEASURES`), chosen among on inner dataset folds by
:mod:`radclass.training.fluid_contrast`:

* ``fractions``: log of the share of brain voxels above 1.5x the brain's median over the share below 0.6x;
* ``tails``: log of the upper spread (95th percentile minus median) over the lower (median minus 5th);
* ``deep_tails``: ``tails`` over the voxels 8 or more voxels inside the mask (ventricles, deep tissue).

Intensities are taken above the brain's 0.5th percentile, so that a scanner's offset does not enter. Only a whole
brain is measured (:func:`radclass.features.brain_mask.check_whole_brain`): on a slab the fluid share depends on
where it was cut, and the mask network finds a "brain" in any body part.
"""

from __future__ import annotations

import numpy as np

from radclass.features.brain_mask import BrainVoxels, MaskNetwork, whole_brain_voxels

#: The readings of :func:`fluid_contrast`, by name.
MEASURES: tuple[str, ...] = ("fractions", "tails", "deep_tails")
_BRIGHT, _DARK = 1.5, 0.6  # fractions of the brain's median: fluid on a T2, fluid on a FLAIR
_EPS = 1e-3  # share added to both fractions, so that a volume without one tail stays finite
_DEEP = 8  # voxels inside the mask (of the 128^3 cube) for ``deep_tails``
_MIN_VOXELS = 100  # deep voxels for ``deep_tails``


def _tails(values: np.ndarray) -> float:
    p5, p50, p95 = np.percentile(values, (5, 50, 95))
    if not p50 - p5 > 0 or not p95 - p50 > 0:
        raise ValueError("the brain's intensities have no spread to measure")
    return float(np.log((p95 - p50) / (p50 - p5)))


def fluid_measure(values: np.ndarray, depth: np.ndarray, measure: str) -> float:
    """One reading (:data:`MEASURES`) of brain voxel ``values`` (offset removed) whose distances to the mask's
    edge are ``depth`` (voxels)."""
    if measure == "fractions":
        median = float(np.median(values))
        if not median > 0:
            raise ValueError("the brain's median intensity is not positive")
        bright, dark = float((values > _BRIGHT * median).mean()), float((values < _DARK * median).mean())
        return float(np.log((bright + _EPS) / (dark + _EPS)))
    if measure == "tails":
        return _tails(values)
    if measure == "deep_tails":
        deep = values[depth >= _DEEP]
        if len(deep) < _MIN_VOXELS:
            raise ValueError("the brain mask holds too little deep tissue to measure")
        return _tails(deep)
    raise ValueError(f"Unknown fluid measure {measure!r}; expected one of {', '.join(MEASURES)}.")


def fluid_readings(
    volume: np.ndarray,
    network: MaskNetwork,
    spacing: tuple[float, float, float] | None,
    *,
    measures: tuple[str, ...] = MEASURES,
    min_slices: int = 1,
) -> dict[str, float]:
    """The readings ``measures`` (of :data:`MEASURES`) of a whole-brain volume of voxel size ``spacing`` (mm),
    from one brain mask; a reading that cannot be taken is left out.

    Raises
    ------
    ValueError
        When the volume is not 3D, is thinner than ``min_slices`` along an axis, has no voxel size, or the mask
        finds no brain large enough to measure; :class:`~radclass.features.brain_mask.NotAWholeBrain`
        when the mask is not a whole brain.
    """
    brain = whole_brain_voxels(volume, network, spacing, min_slices=min_slices, depth="deep_tails" in measures)
    return fluid_readings_of(brain, measures)


def fluid_readings_of(brain: BrainVoxels, measures: tuple[str, ...] = MEASURES) -> dict[str, float]:
    """The readings ``measures`` of a whole brain's voxels; a reading that cannot be taken is left out."""
    values, depth = brain.values, brain.depth
    readings = {}
    for name in measures:
        try:
            readings[name] = fluid_measure(values, depth, name)
        except ValueError:
            continue
    return readings


def fluid_contrast(
    volume: np.ndarray,
    network: MaskNetwork,
    spacing: tuple[float, float, float] | None,
    *,
    measure: str = "fractions",
    min_slices: int = 1,
) -> float:
    """The fluid-brightness reading ``measure`` of a brain volume (module docstring): above 0 where fluid is
    bright (T2), below where it is dark (FLAIR).

    Parameters
    ----------
    volume
        A 3D volume (:func:`radclass.io.pixels.load_volume` gives one).
    network
        The brain-mask network (:data:`radclass.features.brain_mask.MaskNetwork`).
    spacing
        The volume's voxel size along each axis, mm (:func:`radclass.io.pixels.volume_spacing`).
    measure
        One of :data:`MEASURES`.
    min_slices
        The fewest voxels the volume may have along its thinnest axis.

    Raises
    ------
    ValueError
        When the volume cannot be measured (see :func:`fluid_readings`) or ``measure`` is unknown.
    """
    if measure not in MEASURES:
        raise ValueError(f"Unknown fluid measure {measure!r}; expected one of {', '.join(MEASURES)}.")
    readings = fluid_readings(volume, network, spacing, measures=(measure,), min_slices=min_slices)
    if measure not in readings:
        raise ValueError(f"the {measure} reading cannot be taken on this volume")
    return readings[measure]
