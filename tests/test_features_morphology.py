"""Hole filling and bounding boxes (radclass.features.morphology) against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from radclass.features.morphology import bounding_box, fill_holes


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
