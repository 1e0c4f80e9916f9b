"""Fast 2D slices for CNN training: :func:`simulate_slices`."""

from __future__ import annotations

import numpy as np

from radclass.simulate.anatomy import load_anatomy
from radclass.simulate.geometry import Stack, coverage, even_offsets, plane_axes
from radclass.simulate.protocols import Protocol, sample_protocol
from radclass.simulate.render import render_stack, sample_subject


def simulate_slices(
    sequence: str,
    orientation: str,
    rng: np.random.Generator,
    *,
    n_slices: int = 5,
    size: int = 128,
    protocol: Protocol | None = None,
) -> np.ndarray:
    """Simulate ``n_slices`` square slices of one series, evenly spaced through the brain in ``orientation``.

    A new head (tissue values, optional lesion, pose) and, unless ``protocol`` is given, a new protocol are
    drawn from ``rng``; resolution, slice thickness, partial Fourier, motion ghosts, EPI distortion, bias field
    and Rician noise are randomised per call. The field of view is the protocol's (larger side), sampled on a
    ``size`` x ``size`` grid.

    Returns
    -------
    numpy.ndarray
        (n_slices, size, size) float32 in the units a scanner would store (see :mod:`radclass.simulate.render`).
    """
    anatomy = load_anatomy()
    if protocol is None:
        protocol = sample_protocol(sequence, rng, orientation=orientation)
    subject = sample_subject(rng, protocol.field_strength)
    row, col = plane_axes(orientation, rng)
    centre = anatomy.brain_center_lps + rng.normal(0.0, 3.0, size=3).astype(np.float32)
    lo, hi = coverage(protocol.sequence, anatomy.brain_points_lps, np.cross(row, col), centre)
    margin = {"SCOUT": 0.1, "MRA": 0.05}.get(protocol.sequence, 0.18)
    fov = max(protocol.fov)
    stack = Stack(
        row=row,
        col=col,
        centre=centre,
        offsets=even_offsets(lo, hi, n_slices, margin),
        rows=size,
        columns=size,
        pixel_spacing=(fov / size, fov / size),
    )
    return render_stack(protocol, stack, subject, rng, anatomy=anatomy, max_depth=2).astype(np.float32)
