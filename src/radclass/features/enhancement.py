"""Gadolinium enhancement of a T1-weighted brain volume, read from its pixels (issue #12).

No header reliably says whether a contrast agent was given: ContrastBolusAgent is usually empty and the series
description is free text. After gadolinium, vessels, dural sinuses, the choroid plexus and enhancing lesions
outshine white matter on a T1-weighted image; before it, few brain voxels do. :func:`enhancement_ratio`
measures this as the 99.5th percentile of the brain's voxels (3 or more voxels inside a brain mask) over the
median of its deep tissue (8 or more voxels inside, CSF-dark voxels left out): physics, not site, so one
threshold serves every scanner (the bundle's ``contrast_enhancement`` table holds the validated one;
docs/pixel_model.md has its nested leave-one-dataset-out figures).

The brain mask is a learned one, because the scalp's fat is as bright as enhancement and a threshold mask
leaks into it: the low-resolution stage of deepbet (Fisch et al., 2024; MIT licence, weights trained on
T1-weighted heads with and without skull), exported to ONNX (``brain_mask.onnx`` in the bundle, see
``benchmarks/export_brain_mask.py``) and run by onnxruntime on the volume resampled to 128^3 voxels with
deepbet's own input normalisation. Everything here is numpy/scipy; the network is a callable
(:data:`MaskNetwork`) so that tests and other runtimes can supply their own.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

#: Side of the cube the brain-mask network reads (deepbet's low-resolution stage).
MASK_SIDE = 128
#: A network: the (1, 1, 128, 128, 128) float32 input -> (1, 2, 128, 128, 128) background/brain probabilities.
MaskNetwork = Callable[[np.ndarray], np.ndarray]
_DEEP, _INNER = 8, 3  # voxels inside the mask (of the 128^3 cube): deep tissue, the voxels whose tail is read
_CSF_DARK = 0.55  # deep voxels below this fraction of the deep median are CSF, not tissue
_TAIL = 99.5  # percentile of the inner voxels compared with the deep tissue
#: An outer band (1-3 voxels inside the mask) brighter than this times the deep tissue is not a T1 brain's
#: (cortex is darker than white matter, before gadolinium and after): the intensity follows a receive coil.
MAX_OUTER_TO_DEEP = 1.05


class UnevenIntensity(ValueError):
    """The brain's outer band outshines its core (:data:`MAX_OUTER_TO_DEEP`): bright voxels there are no sign of
    gadolinium, so the volume is not measured (a receive coil without intensity normalisation does this)."""


def resample_cube(volume: np.ndarray, side: int = MASK_SIDE) -> np.ndarray:
    """``volume`` resampled to ``side``^3 voxels by nearest neighbour (PyTorch's ``nearest-exact`` indices:
    source index ``floor((i + 0.5) * n / side)``), float32, NaNs as 0."""
    if volume.ndim != 3:
        raise ValueError(f"A volume has three dimensions, not shape {volume.shape}.")
    index = [np.minimum(((np.arange(side) + 0.5) * n / side).astype(np.int64), n - 1) for n in volume.shape]
    cube = np.asarray(volume, dtype=np.float32)[np.ix_(*index)]
    return np.nan_to_num(cube, copy=False)


def mask_input(cube: np.ndarray) -> np.ndarray:
    """deepbet's input normalisation of a resampled cube: the 0.5-99.5 percentile range to [0, 1], then mean
    0.449 and standard deviation 0.226; shape (1, 1, side, side, side)."""
    lo, hi = np.quantile(cube, (0.005, 0.995))
    scaled = np.clip((cube - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)
    spread = float(scaled.std(ddof=1)) or 1.0
    return (0.226 * (scaled - scaled.mean()) / spread + 0.449).astype(np.float32)[None, None]


def brain_mask(cube: np.ndarray, network: MaskNetwork) -> np.ndarray:
    """The brain of a resampled cube (boolean, same shape): the network's brain probability above 0.5, its
    largest connected part, holes filled; all False when the network finds no brain."""
    brain = network(mask_input(cube))[0, 1] > 0.5
    mask = np.zeros(cube.shape, dtype=bool)
    box = bounding_box(brain)
    if box is None:
        return mask
    labels, _ = ndimage.label(brain[box])  # the parts and holes of the box are those of the whole cube
    largest = int(np.bincount(labels.ravel())[1:].argmax()) + 1
    mask[box] = ndimage.binary_fill_holes(labels == largest)
    return mask


def bounding_box(mask: np.ndarray, margin: int = 1) -> tuple[slice, ...] | None:
    """The smallest box holding every True voxel of ``mask``, grown by ``margin`` voxels inside the array (so
    that it keeps a False border wherever the mask does not touch the array's edge); None when all False."""
    if not mask.any():
        return None
    box = []
    for axis in range(mask.ndim):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        box.append(slice(max(int(hit[0]) - margin, 0), min(int(hit[-1]) + 1 + margin, mask.shape[axis])))
    return tuple(box)


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
    volume: np.ndarray, network: MaskNetwork, *, flatten: float | None = None, min_slices: int = 1
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

    Raises
    ------
    ValueError
        When the volume is not 3D, is thinner than ``min_slices`` along an axis, or the mask holds too little
        deep tissue to measure (a slab, a non-brain volume): the ratio would mean nothing.
        :class:`UnevenIntensity` (a ValueError) when the brain's outer band outshines its core.
    """
    if volume.ndim == 3 and min(volume.shape) < min_slices:
        raise ValueError(f"{min(volume.shape)} slices along the volume's thinnest axis, fewer than {min_slices}")
    cube = resample_cube(volume)
    mask = brain_mask(cube, network)
    box = bounding_box(mask)
    if box is None:
        raise ValueError("the brain-mask network found no brain in this volume")
    # Everything below reads the brain and its surroundings only: the box with its one-voxel False border gives
    # the same distances, and the Gaussian sums of flatten_bias see zeros outside it either way.
    cube, mask = cube[box], mask[box]
    depth = ndimage.distance_transform_edt(mask)
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
