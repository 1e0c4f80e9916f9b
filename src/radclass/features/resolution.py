"""The detail a volume really holds along each voxel axis, read from its pixels (issue #12).

A volume's voxel size is what it was stored at, not what it was acquired at: scanners and converters interpolate
(zero-filled k-space, "ZIP 512", a resampling to a template), so an echo-planar diffusion or BOLD volume acquired
at 2-3 mm may be stored at 1 mm or finer. The pixel-only calls rely on structural scans being acquired finer
than echo-planar ones (:func:`radclass.models.bundle.coarse_voxel_refusal`), and a diffusion trace interpolated
to 1 mm reads like a FLAIR in the grey/white test. Interpolation leaves a mark every site shares: an image
interpolated from a coarser acquisition holds almost no power above its acquisition's Nyquist frequency, while
a natively sampled image keeps anatomy and noise up to its own.

:func:`effective_spacing` reads, along each axis, the highest frequency at which the power spectrum of the
volume's lines (through the middle of the volume, mean removed, Hann-windowed) is still at least
:data:`POWER_FLOOR` of its power between :data:`REFERENCE_BAND` cycles per voxel, and turns it into the voxel
size that frequency is the Nyquist frequency of; never finer than the stored size. The floor is a prior from the
physics of band-limited images, not fitted: natively sampled pool volumes keep 10^-1 to 10^-3.6 of the reference
band's power at their Nyquist frequency, pool echo-planar volumes interpolated two or three times fall below
10^-3.5 beyond their acquisition's (docs/pixel_model.md has the figures).

Skull-stripped volumes keep the mask's edge, whose step holds power at every frequency, so an interpolated
volume that was also skull-stripped may still read as fine: the measure can only refuse, never vouch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: The band (cycles per voxel) whose mean power every other frequency's is compared with: below the Nyquist
#: frequency of an acquisition interpolated up to five times, above the head's own outline.
REFERENCE_BAND: tuple[float, float] = (0.05, 0.10)
#: The share of the reference band's power below which a frequency holds no detail (interpolation, not anatomy).
POWER_FLOOR = 1e-3
#: The central share of the other two axes whose lines are read (the head, not the background around it).
CENTRAL = 0.6
#: The most lines read along one axis (evenly strided); fewer voxels along the axis than
#: :data:`MIN_SAMPLES` leave that axis at its stored size.
MAX_LINES = 4096
MIN_SAMPLES = 32


def line_spectrum(volume: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in cycles per voxel, mean power) of the lines of a 3D ``volume`` along ``axis``, taken
    through the central :data:`CENTRAL` share of the other two axes; constant lines (background) left out.

    Raises
    ------
    ValueError
        When the volume is not 3D or holds no line that varies.
    """
    if volume.ndim != 3:
        raise ValueError(f"A volume's line spectrum needs a 3D array, not one of shape {volume.shape}.")
    moved = np.moveaxis(volume, axis, -1)
    window = tuple(slice(int(n * (1 - CENTRAL) / 2), max(int(n * (1 + CENTRAL) / 2), 1)) for n in moved.shape[:-1])
    lines = moved[window].reshape(-1, moved.shape[-1])
    lines = lines[:: max(1, len(lines) // MAX_LINES)].astype(np.float64)
    lines = lines[np.ptp(lines, axis=1) > 0]
    if not len(lines):
        raise ValueError(f"The volume holds no varying line along axis {axis}.")
    lines -= lines.mean(axis=1, keepdims=True)
    n = lines.shape[1]
    power = (np.abs(np.fft.rfft(lines * np.hanning(n), axis=1)) ** 2).mean(axis=0)
    return np.fft.rfftfreq(n), power


def detail_frequency(frequencies: np.ndarray, power: np.ndarray) -> float:
    """The highest frequency (cycles per voxel, at most 0.5) whose power is at least :data:`POWER_FLOOR` of the
    mean power in :data:`REFERENCE_BAND`; 0.5 when the reference band holds no power (nothing to compare)."""
    low, high = REFERENCE_BAND
    band = (frequencies >= low) & (frequencies <= high)
    reference = float(power[band].mean()) if band.any() else 0.0
    if not reference > 0:
        return 0.5
    above = np.flatnonzero((power >= POWER_FLOOR * reference) & (frequencies >= low))
    return float(frequencies[above[-1]]) if len(above) else low


def effective_spacing(volume: np.ndarray, spacing: Sequence[float]) -> tuple[float, float, float]:
    """The voxel size (mm) along each axis of a 3D ``volume`` stored at ``spacing`` (mm) that its detail is
    worth: ``spacing * 0.5 / f`` with ``f`` its :func:`detail_frequency`, never below ``spacing``. An axis with
    fewer than :data:`MIN_SAMPLES` voxels, or no varying line, keeps its stored size.

    Raises
    ------
    ValueError
        When ``volume`` is not 3D or ``spacing`` does not give three positive sizes.
    """
    if volume.ndim != 3:
        raise ValueError(f"The effective voxel size needs a 3D volume, not one of shape {volume.shape}.")
    sizes = [float(d) for d in spacing]
    if len(sizes) != 3 or not all(d > 0 for d in sizes):
        raise ValueError(f"The effective voxel size needs three positive voxel sizes, not {tuple(spacing)}.")
    out = []
    for axis, stored in enumerate(sizes):
        if volume.shape[axis] < MIN_SAMPLES:
            out.append(stored)
            continue
        try:
            frequency = detail_frequency(*line_spectrum(volume, axis))
        except ValueError:
            out.append(stored)
            continue
        out.append(max(stored, stored * 0.5 / frequency))
    return out[0], out[1], out[2]
