"""Hole filling and bounding boxes (radclass.features.morphology) against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from radclass.features.brain_mask import DEPTH_LIMIT
from radclass.features.morphology import bounding_box, depth_up_to, fill_holes


@pytest.mark.parametrize("ndim", [2, 3])
def test_fill_holes_is_scipys(ndim: int) -> None:
    rng = np.random.default_rng(ndim)
    for _ in range(300):
        shape = tuple(int(n) for n in rng.integers(1, 16, size=ndim))
        mask = rng.random(shape) < rng.uniform(0.1, 0.95)
        assert np.array_equal(fill_holes(mask), ndimage.binary_fill_holes(mask))


def test_fill_holes_fills_a_closed_shell_and_keeps_an_open_one() -> None:
    shell = np.zeros((9, 9, 9), bool)
    shell[2:7, 2:7, 2:7] = True
    shell[3:6, 3:6, 3:6] = False
    assert fill_holes(shell)[4, 4, 4]
    shell[4, 4, 2] = False  # a channel to the outside: the cavity is no hole any more
    assert not fill_holes(shell)[4, 4, 4]
    assert not fill_holes(np.zeros((4, 4), bool)).any()


def test_bounding_box() -> None:
    mask = np.zeros((10, 12), bool)
    mask[3:5, 0:2] = True
    assert bounding_box(mask) == (slice(2, 6), slice(0, 3))
    assert bounding_box(mask, margin=0) == (slice(3, 5), slice(0, 2))
    assert bounding_box(np.zeros((3, 3), bool)) is None


@pytest.mark.parametrize("ndim", [2, 3])
def test_depth_up_to_is_scipys_within_the_limit(ndim: int) -> None:
    rng = np.random.default_rng(10 + ndim)
    for _ in range(150):
        shape = tuple(int(n) for n in rng.integers(1, 30, size=ndim))
        mask = rng.random(shape) < rng.uniform(0.5, 1.0)  # dense masks: deep voxels, some touching the edge
        limit = int(rng.integers(0, 9))
        if mask.all():
            continue  # no False voxel: no distance (scipy's values are then meaningless; depth_up_to gives inf)
        reference = ndimage.distance_transform_edt(mask)
        depth = depth_up_to(mask, limit)
        near = reference <= limit
        assert np.array_equal(depth[near], reference[near])
        assert np.isinf(depth[~near]).all()


def test_depth_up_to_a_real_brain_mask() -> None:
    """A ball the size of a brain in the 128^3 cube, with scattered holes: every threshold the brain measures use."""
    z, y, x = np.mgrid[:100, :104, :96]
    mask = (z - 50) ** 2 / 48**2 + (y - 52) ** 2 / 50**2 + (x - 48) ** 2 / 46**2 < 1
    mask &= np.random.default_rng(3).random(mask.shape) > 0.002
    reference = ndimage.distance_transform_edt(mask)
    depth = depth_up_to(mask, DEPTH_LIMIT)
    for k in range(DEPTH_LIMIT + 1):
        assert np.array_equal(depth >= k, reference >= k)


def test_depth_limit_covers_every_brain_measure() -> None:
    from radclass.features import enhancement, fluid, grey_white

    assert max(grey_white.MEASURES.values()) <= DEPTH_LIMIT
    assert max(fluid._DEEP, enhancement._DEEP, enhancement._INNER) <= DEPTH_LIMIT


def test_depth_up_to_refuses_a_silly_limit() -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        depth_up_to(np.ones((3, 3), bool), -1)
