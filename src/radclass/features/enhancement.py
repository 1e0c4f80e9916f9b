"""Gadolinium enhancement of a T1-weighted brain volume, read from its pixels (issue #12).

No header reliably says whether a contrast agent was given: ContrastBolusAgent is usually empty and the series
description is free text. After gadolinium, vessels, dural sinuses, the choroid plexus and enhancing lesions
outshine white matter on a T1-weighted image; before it, few brain voxels do. :func:`enhancement_ratio`
measures this as the 99.5th percentile of the brain's voxels (3 or more voxels inside a brain mask) over the
median of its deep tissue (8 or more voxels inside, CSF-dark voxels left out): physics, not site, so one
threshold serves every scanner (the bundle's ``contrast_enhancement`` table holds the validated one;
docs/pixel_model.md has its nested leave-one-dataset-out figures).

The brain mask is the learned one of :mod:`radclass.features.brain_mask` (the scalp's fat is as bright as
enhancement, and a threshold mask leaks into it). Everything here is numpy/scipy.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from radclass.features.brain_mask import DEPTH_LIMIT, MaskNetwork, check_whole_brain, masked_brain
from radclass.features.morphology import depth_up_to

_DEEP, _INNER = 8, 3  # voxels inside the mask (of the 128^3 cube): deep tissue, the voxels whose tail is read
_CSF_DARK = 0.55  # deep voxels below this fraction of the deep median are CSF, not tissue
_TAIL = 99.5  # percentile of the inner voxels compared with the deep tissue
#: An outer band (1-3 voxels inside the mask) brighter than this times the deep tissue is not a T1 brain's
#: (cortex is darker than white matter, before gadolinium and after): the intensity follows a receive coil.
MAX_OUTER_TO_DEEP = 1.05


class UnevenIntensity(ValueError):
    """The brain's outer band outshines its core (:data:`MAX_OUTER_TO_DEEP`): bright voxels there are no sign of
    gadolinium, so the volume is not measured (a receive coil without intensity normalisation does this)."""


def flatten_bias(cube: np.ndarray, tissue: np.ndarray, sigma: float) -> np.ndarray:
    """``cube`` divided by its slowly varying gain: the Gaussian-weighted (``sigma`` voxels) mean of the
    ``tissue`` voxels around each voxel (normalised convolution), so that a receive coil's bright rim or a 7 T
    centre brightening does not pass for enhancement; small bright structures (vessels, sinuses, plexus) keep
    their contrast."""
    weight = ndimage.gaussian_filter(tissue.astype(np.float32), sigma, mode="constant")
    gain = ndimage.gaussian_filter(np.where(tissue, cube, 0).astype(np.float32), sigma, mode="constant")
    level = float(np.median(cube[tissue]))
    return np.where(weight > 1e-3, cube * level * weight / np.maximum(gain, 1e-6), cube).astype(np.float32)


def enhancement_ratio(
    volume: np.ndarray,
    network: MaskNetwork,
    *,
    flatten: float | None = None,
    min_slices: int = 1,
    whole_brain: bool = False,
    spacing: tuple[float, float, float] | None = None,
) -> float:
    """How far the brightest brain voxels of a T1-weighted ``volume`` outshine its deep tissue (module
    docstring): about 1.2-1.4 before gadolinium, 1.6-2.2 after it on the pool's sites.

    Parameters
    ----------
    volume
        A 3D volume (any voxel size; :func:`radclass.io.pixels.load_volume` gives one).
    network
        The brain-mask network (:data:`MaskNetwork`).
    flatten
        When given, the slowly varying gain is divided out first (:func:`flatten_bias`, Gaussian sigma in
        voxels of the 128^3 cube).
    min_slices
        The fewest voxels the volume may have along its thinnest axis (a slab of a few slices, stretched to the
        cube, would be measured on interpolated tissue).
    whole_brain
        Measure only a whole brain (:func:`radclass.features.brain_mask.check_whole_brain`, with the volume's
        voxel size ``spacing`` in mm): for a series whose header cannot say that it is a head.

    Raises
    ------
    ValueError
        When the volume is not 3D, is thinner than ``min_slices`` along an axis, or the mask holds too little
        deep tissue to measure (a slab, a non-brain volume): the ratio would mean nothing.
        :class:`UnevenIntensity` (a ValueError) when the brain's outer band outshines its core;
        :class:`~radclass.features.brain_mask.NotAWholeBrain` (a ValueError) when ``whole_brain`` is asked for
        and the mask is not one.
    """
    # The brain's box with its one-voxel False border gives the same distances as the whole cube, and the
    # Gaussian sums of flatten_bias see zeros outside it either way.
    cube, mask = masked_brain(volume, network, min_slices)
    if whole_brain:
        if spacing is None:
            raise ValueError("the volume gives no voxel size, so its brain's size cannot be checked")
        check_whole_brain(volume.shape, spacing, mask)
    depth = depth_up_to(mask, DEPTH_LIMIT)  # every threshold below is at most DEPTH_LIMIT
    deep = depth >= _DEEP
    if deep.sum() < 50:
        raise ValueError("the brain mask holds too little deep tissue to measure enhancement")
    values = cube - np.percentile(cube[mask], 1)
    tissue = values > _CSF_DARK * np.median(values[deep])
    reference = float(np.median(values[deep & tissue]))
    if not reference > 0:
        raise ValueError("the deep tissue of the brain mask has no signal")
    outer = float(np.median(values[(depth >= 1) & (depth < 4) & tissue])) / reference  # as stored, unflattened
    if outer > MAX_OUTER_TO_DEEP:
        raise UnevenIntensity(
            f"the brain's outer band is {outer:.2f}x as bright as its core: the intensity follows a receive coil"
        )
    if flatten is not None:
        values = flatten_bias(values, mask & tissue, flatten)
        reference = float(np.median(values[deep & tissue]))
    return float(np.percentile(values[depth >= _INNER], _TAIL)) / reference
