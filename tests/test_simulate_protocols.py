"""Protocol sampler: header values per sequence class stay in physically faithful ranges."""

from __future__ import annotations

import numpy as np
import pytest

from radclass.simulate.protocols import VENDORS, Protocol, sample_protocol
from radclass.taxonomy import ORIENTATIONS, SEQUENCES

N = 150


def _draw(sequence: str, seed: int = 0, **kwargs) -> list[Protocol]:
    rng = np.random.default_rng(seed)
    return [sample_protocol(sequence, rng, **kwargs) for _ in range(N)]


@pytest.mark.parametrize("sequence", SEQUENCES)
def test_every_class_samples_consistent_protocols(sequence: str) -> None:
    for p in _draw(sequence):
        assert p.sequence == sequence
        assert p.vendor in VENDORS and p.orientation in ORIENTATIONS
        assert p.acquisition_type in ("2D", "3D")
        assert p.repetition_time > 0 and p.echo_time > 0 and 0 < p.flip_angle <= 180
        assert p.rows >= 32 and p.columns >= 32 and p.n_slices >= 1 and p.n_volumes >= 1
        assert p.spacing_between_slices >= p.slice_thickness > 0
        assert p.series_description and "{" not in p.series_description
        header = p.header()
        assert header["ImageType"][0] in ("ORIGINAL", "DERIVED")
        assert header["MagneticFieldStrength"] in (1.2, 1.5, 3.0)


def test_t1_spin_echo_and_mprage_ranges() -> None:
    for p in _draw("T1", seed=1):
        if p.technique in ("se", "tse"):
            assert 400 <= p.repetition_time <= 900 and p.echo_time <= 20 and p.inversion_time is None
        elif p.technique == "mprage":
            assert p.acquisition_type == "3D" and 5 <= p.flip_angle <= 12
            assert 400 <= p.physics["ti"] <= 1100
            assert p.contrast_agent is None


def test_t1c_has_agent_and_post_contrast() -> None:
    for p in _draw("T1C", seed=2):
        assert p.contrast_agent and p.contrast == "post"


def test_t2_flair_pd_ranges() -> None:
    for p in _draw("T2", seed=3):
        assert p.repetition_time >= 1000 and p.echo_time >= 80 and p.inversion_time is None
        if p.technique == "tse":
            assert p.repetition_time >= 2500 and p.echo_time <= 120
    for p in _draw("FLAIR", seed=4):
        assert p.repetition_time >= 4800 and p.echo_time >= 80 and "IR" in p.scanning_sequence
        assert (1800 <= p.inversion_time <= 2800) if p.acquisition_type == "2D" else (1600 <= p.inversion_time <= 2200)
    for p in _draw("PD", seed=5):
        assert p.repetition_time >= 2000 and p.echo_time <= 35


def test_gradient_echo_diffusion_angio_bold_ranges() -> None:
    for p in _draw("T2STAR", seed=6):
        assert "GR" in p.scanning_sequence and 15 <= p.echo_time <= 30
    for p in _draw("DWI", seed=7):
        assert p.epi and p.b_value is not None and 0 <= p.b_value <= 3000 and p.repetition_time >= 3000
    for p in _draw("MRA", seed=8):
        assert p.repetition_time <= 40 and p.echo_time <= 7 and p.acquisition_type == "3D" and p.slice_thickness < 1
    for p in _draw("BOLD", seed=9):
        assert p.epi and 500 <= p.repetition_time <= 3000 and p.n_volumes >= 100 and p.rows <= 104


def test_derived_maps_are_derived() -> None:
    for sequence in ("ADC", "DTI_MAP"):
        for p in _draw(sequence, seed=10):
            assert p.image_type[0] == "DERIVED"
    for p in _draw("SCOUT", seed=11):
        assert p.n_slices <= 5 and p.slice_thickness >= 5


def test_vendor_and_field_strength_are_honoured() -> None:
    rng = np.random.default_rng(12)
    for vendor in VENDORS:
        p = sample_protocol("T2", rng, vendor=vendor, field_strength=3.0, orientation="COR")
        assert p.vendor == vendor and p.field_strength == 3.0 and p.orientation == "COR"


def test_seeded_draws_reproduce() -> None:
    a = sample_protocol("FLAIR", np.random.default_rng(5))
    b = sample_protocol("FLAIR", np.random.default_rng(5))
    assert a == b
