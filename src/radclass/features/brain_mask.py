"""The brain inside a head volume, from a learned mask network (issue #12).

The scalp's fat is as bright as enhancement on a T1 and a threshold mask leaks into it, so the brain measures
(:mod:`radclass.features.enhancement`, :mod:`radclass.features.fluid`) read a learned mask: the low-resolution
stage of deepbet (Fisch et al., 2024; MIT licence, weights trained on T1-weighted heads with and without skull),
exported to ONNX (``brain_mask.onnx`` in the bundle, see ``benchmarks/export_brain_mask.py``) and run by
onnxruntime on the volume resampled to 128^3 voxels with deepbet's own input normalisation. Everything here is
numpy/scipy; the network is a callable (:data:`MaskNetwork`) so that tests and other runtimes can supply their
own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from radclass.features.morphology import bounding_box, depth_up_to, fill_holes

#: Side of the cube the brain-mask network reads (deepbet's low-resolution stage).
MASK_SIDE = 128
#: A network: the (1, 1, 128, 128, 128) float32 input -> (1, 2, 128, 128, 128) background/brain probabilities.
MaskNetwork = Callable[[np.ndarray], np.ndarray]
#: The mask's volume (cm^3) of a whole brain: adult brains lie near 1,000-1,700 cm^3, and the bounds leave room
#: for children, atrophy and a mask that keeps some CSF (a physical prior, not fitted). A slab, a cropped patch or
#: a body part that the network mistook for a brain (a pelvis: about 320 cm^3 in the pool) is not measured.
WHOLE_BRAIN_CM3 = (700.0, 2200.0)
#: No whole brain is longer than this along any axis (mm).
MAX_BRAIN_EXTENT_MM = 210.0


def reusing_last_mask(network: MaskNetwork) -> MaskNetwork:
    """``network``, answering again from memory when it is asked about the same cube as last time (two measures
    of one volume, e.g. the fluid and gadolinium readings of a volume with no header, then run it once)."""
    last: dict[bytes, np.ndarray] = {}

    def run(cube: np.ndarray) -> np.ndarray:
        key = hashlib.blake2b(np.ascontiguousarray(cube).tobytes(), digest_size=16).digest() + str(cube.shape).encode()
        if key not in last:
            last.clear()
            last[key] = network(cube)
        return last[key]

    return run


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
    mask[box] = fill_holes(labels == largest)
    return mask


def masked_brain(volume: np.ndarray, network: MaskNetwork, min_slices: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(cube, mask) of a volume's brain: the volume resampled to the network's cube (:func:`resample_cube`), its
    brain mask (:func:`brain_mask`), both cut to the mask's bounding box (:func:`bounding_box`, one False voxel
    of border wherever the mask does not touch the cube's edge).

    Raises
    ------
    ValueError
        When the volume is not 3D, is thinner than ``min_slices`` voxels along an axis (a slab of a few slices,
        stretched to the cube, would be measured on interpolated tissue), is constant, or the network finds no
        brain.
    """
    if volume.ndim == 3 and min(volume.shape) < min_slices:
        raise ValueError(f"{min(volume.shape)} slices along the volume's thinnest axis, fewer than {min_slices}")
    cube = resample_cube(volume)
    if not cube.max() > cube.min():  # the network would still draw a "brain" in a constant cube
        raise ValueError("every voxel of the volume holds the same value: there is no image to measure")
    mask = brain_mask(cube, network)
    box = bounding_box(mask)
    if box is None:
        raise ValueError("the brain-mask network found no brain in this volume")
    return cube[box], mask[box]


class NotAWholeBrain(ValueError):
    """The brain mask's size is not a whole brain's (:data:`WHOLE_BRAIN_CM3`, :data:`MAX_BRAIN_EXTENT_MM`): the
    fluid reading of a slab or of a body part would mean nothing."""


def check_whole_brain(volume_shape: tuple[int, ...], spacing: tuple[float, float, float], mask: np.ndarray) -> None:
    """Raise :class:`NotAWholeBrain` unless ``mask`` (of the volume's 128^3 cube, cut to its box) has a whole
    brain's volume and extent, for a volume of ``volume_shape`` voxels of ``spacing`` mm."""
    voxel = [n * float(d) / MASK_SIDE for n, d in zip(volume_shape, spacing)]  # mm per cube voxel
    cm3 = float(mask.sum()) * float(np.prod(voxel)) / 1000.0
    extent = [float(mask.any(axis=tuple(a for a in range(3) if a != axis)).sum()) * voxel[axis] for axis in range(3)]
    low, high = WHOLE_BRAIN_CM3
    if not low <= cm3 <= high:
        raise NotAWholeBrain(f"the brain mask holds {cm3:.0f} cm^3, not a whole brain ({low:.0f}-{high:.0f} cm^3)")
    if max(extent) > MAX_BRAIN_EXTENT_MM:
        raise NotAWholeBrain(f"the brain mask is {max(extent):.0f} mm long, longer than a brain")


#: The deepest any brain measure looks (cube voxels inside the mask): distances beyond it are not computed
#: (:func:`radclass.features.morphology.depth_up_to` gives them as inf).
DEPTH_LIMIT = 8
#: The fewest voxels a brain mask may hold to be read.
MIN_BRAIN_VOXELS = 100


@dataclass(frozen=True)
class BrainVoxels:
    """The voxels of a whole brain inside its mask (the 128^3 cube): intensities with the scanner's offset removed
    (the brain's 0.5th percentile) and each voxel's distance to the mask's edge (cube voxels; inf beyond
    :data:`DEPTH_LIMIT`)."""

    values: np.ndarray
    depth: np.ndarray


def whole_brain_voxels(
    volume: np.ndarray,
    network: MaskNetwork,
    spacing: tuple[float, float, float] | None,
    *,
    min_slices: int = 1,
    depth: bool = True,
) -> BrainVoxels:
    """The brain of a volume of voxel size ``spacing`` (mm), when it is a whole brain (:func:`masked_brain`,
    :func:`check_whole_brain`); ``depth=False`` leaves the distances out (empty), which saves a distance
    transform.

    Raises
    ------
    ValueError
        When the volume has no voxel size or the mask finds no brain large enough (see :func:`masked_brain`);
        :class:`NotAWholeBrain` when the mask is not a whole brain.
    """
    if spacing is None:
        raise ValueError("the volume gives no voxel size, so its brain's size cannot be checked")
    cube, mask = masked_brain(volume, network, min_slices)
    if mask.sum() < MIN_BRAIN_VOXELS:
        raise ValueError("the brain mask is too small to measure")
    check_whole_brain(volume.shape, spacing, mask)
    inside = cube[mask]
    distances = depth_up_to(mask, DEPTH_LIMIT)[mask] if depth else np.zeros(0)
    return BrainVoxels(inside - np.percentile(inside, 0.5), distances)
