"""Tissue contrast of the simulator: signal equations and rendered images order tissues like real MR."""

from __future__ import annotations

import numpy as np
import pytest

from radclass.simulate.anatomy import load_anatomy
from radclass.simulate.geometry import Stack, plane_axes
from radclass.simulate.protocols import sample_protocol
from radclass.simulate.render import Sampler, render_stack, sample_subject, tissue_signal
from radclass.simulate.tissues import INDEX


def _signals(sequence: str, seed: int, n: int = 40):
    """Per-tissue signals of ``n`` random protocols (flow and fat-sat included) on random heads."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        p = sample_protocol(sequence, rng)
        subject = sample_subject(rng, p.field_strength, lesion_probability=0.0)
        yield p, tissue_signal(p, subject, rng)


@pytest.mark.parametrize("sequence", ["T1", "T1C"])
def test_t1_white_over_grey_over_csf(sequence: str) -> None:
    for p, s in _signals(sequence, 1):
        assert s[INDEX["wm"]] > s[INDEX["gm"]] > s[INDEX["csf"]], (p.technique, p.repetition_time, p.inversion_time)


def test_t2_csf_bright_grey_over_white() -> None:
    for p, s in _signals("T2", 2):
        assert s[INDEX["csf"]] > s[INDEX["gm"]] > s[INDEX["wm"]], p.technique


def test_flair_csf_dark() -> None:
    for p, s in _signals("FLAIR", 3):
        assert s[INDEX["csf"]] < 0.6 * s[INDEX["gm"]], (p.repetition_time, p.inversion_time)


def test_pd_and_t2star() -> None:
    for _, s in _signals("PD", 4):
        assert s[INDEX["gm"]] > s[INDEX["wm"]] and s[INDEX["csf"]] > 0.6 * s[INDEX["gm"]]
    for _, s in _signals("T2STAR", 5):
        assert s[INDEX["csf"]] > s[INDEX["wm"]] and s[INDEX["gm"]] > 0.95 * s[INDEX["wm"]]


def test_gadolinium_enhances_vessels_and_choroid() -> None:
    rng = np.random.default_rng(6)
    tissues = sample_subject(rng, 3.0, lesion_probability=0.0).tissues
    post = tissues.post_contrast()
    for name in ("artery", "vein", "choroid", "dura"):
        assert post.t1[INDEX[name]] < 0.8 * tissues.t1[INDEX[name]]
    assert post.t1[INDEX["wm"]] == pytest.approx(tissues.t1[INDEX["wm"]])


def test_tof_arteries_brightest() -> None:
    for _, s in _signals("MRA", 7, n=10):
        assert s[INDEX["artery"]] > 2.5 * max(s[INDEX["gm"]], s[INDEX["wm"]])


def _tissue_means(sequence: str, seed: int, **match: str) -> dict[str, float]:
    """Render an axial slab and average the image over (nearly) pure GM, WM and CSF voxels."""
    rng = np.random.default_rng(seed)
    anatomy = load_anatomy()
    while True:
        p = sample_protocol(sequence, rng, orientation="AX")
        if all(getattr(p, k) == v for k, v in match.items()):
            break
    subject = sample_subject(rng, p.field_strength, lesion_probability=0.0, max_rotation=0.0)
    row, col = plane_axes("AX", rng, max_tilt=0.0)
    stack = Stack(row, col, anatomy.brain_center_lps + np.array([0, 0, 12.0]), np.array([-6.0, 0.0, 6.0]), 96, 96,
                  (2.2, 2.2))
    image = render_stack(p, stack, subject, rng, anatomy=anatomy, max_depth=1)
    sampler = Sampler(anatomy, subject, stack.points().reshape(-1, 3))
    means = {}
    for name in ("gm", "wm", "csf"):
        frac = sampler.at(sampler.fractions[INDEX[name]]).reshape(image.shape)
        means[name] = float(image[frac > 0.85].mean())
    return means


@pytest.mark.parametrize("seed", [11, 12])
def test_rendered_contrast_order(seed: int) -> None:
    t1 = _tissue_means("T1", seed, technique="se")
    assert t1["wm"] > t1["gm"] > t1["csf"]
    t2 = _tissue_means("T2", seed, technique="tse")
    assert t2["csf"] > t2["gm"] > t2["wm"]
    flair = _tissue_means("FLAIR", seed)
    assert flair["csf"] < flair["gm"] and flair["csf"] < flair["wm"]
    adc = _tissue_means("ADC", seed)
    assert adc["csf"] > 2.0 * adc["wm"]
