"""simulate_slices: every class and plane gives finite float32 slices of the requested shape (its cost:
benchmarks/bench_simulate.py)."""

from __future__ import annotations

import numpy as np
import pytest

from radclass.simulate import sample_protocol, simulate_slices
from radclass.taxonomy import ORIENTATIONS, SEQUENCES


@pytest.mark.parametrize("sequence", SEQUENCES)
def test_shapes_dtype_finite_every_plane(sequence: str) -> None:
    rng = np.random.default_rng(SEQUENCES.index(sequence))
    for orientation in ORIENTATIONS:
        out = simulate_slices(sequence, orientation, rng, n_slices=3, size=64)
        assert out.shape == (3, 64, 64) and out.dtype == np.float32
        assert np.isfinite(out).all()
        assert out.std() > 0, f"{sequence} {orientation} is constant"


def test_given_protocol_and_seed_reproduce() -> None:
    p = sample_protocol("T2", np.random.default_rng(1), orientation="COR")
    a = simulate_slices("T2", "COR", np.random.default_rng(2), protocol=p, n_slices=2, size=48)
    b = simulate_slices("T2", "COR", np.random.default_rng(2), protocol=p, n_slices=2, size=48)
    np.testing.assert_array_equal(a, b)


def test_slices_differ_through_the_stack() -> None:
    out = simulate_slices("T1", "AX", np.random.default_rng(3), n_slices=5, size=64)
    assert all(not np.allclose(out[i], out[i + 1]) for i in range(4))


def test_magnitude_images_are_non_negative_and_phase_is_signed() -> None:
    rng = np.random.default_rng(4)
    assert simulate_slices("FLAIR", "AX", rng, n_slices=2, size=48).min() >= 0
    while True:
        p = sample_protocol("FIELDMAP", rng, orientation="AX")
        if p.image == "phase":
            break
    assert simulate_slices("FIELDMAP", "AX", rng, protocol=p, n_slices=2, size=48).min() < 0
