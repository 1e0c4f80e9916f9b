"""Acquisition artefacts, randomised per series: resolution / partial-Fourier blur, Gibbs ringing, motion and
EPI Nyquist ghosts, receive-coil bias field and complex Gaussian noise (Rician magnitude).

All functions work on stacks of complex images (n_slices, rows, columns); the phase-encoding axis is -2 (down
the columns) or -1 (along the rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Artifacts:
    """One series' artefact settings."""

    resolution: tuple[float, float]  # acquired / displayed matrix along (rows, columns), <= 1
    partial_fourier: float  # fraction of phase-encoding lines acquired
    phase_axis: int  # -2 or -1
    ghost: float  # motion ghost amplitude (0 = none)
    ghost_period: float  # k-space lines per motion cycle (periodic ghosts); 0 = random jitter
    nyquist: float  # EPI N/2 ghost amplitude
    bias: float  # bias-field strength (0..0.5)
    bias_coeffs: np.ndarray
    snr: float  # mean object signal / noise standard deviation


def sample_artifacts(
    rng: np.random.Generator,
    *,
    acquired: tuple[int, int],
    displayed: tuple[int, int],
    partial_fourier: float,
    phase_axis: int,
    epi: bool,
    field_strength: float,
    voxel_mm3: float,
) -> Artifacts:
    """Draw the artefacts of one series from its acquisition parameters."""
    res = (min(1.0, acquired[0] / displayed[0]), min(1.0, acquired[1] / displayed[1]))
    moving = rng.random() < 0.3
    # SNR grows with voxel volume and field strength; wide spread for coils, patients and averaging.
    snr = 28.0 * (voxel_mm3 / 4.0) ** 0.45 * (field_strength / 1.5) ** 0.7 * rng.lognormal(0.0, 0.35)
    return Artifacts(
        resolution=res,
        partial_fourier=partial_fourier,
        phase_axis=phase_axis,
        ghost=float(rng.uniform(0.03, 0.2)) if moving else 0.0,
        ghost_period=float(rng.choice([0.0, rng.uniform(3.0, 12.0)])),
        nyquist=float(rng.uniform(0.01, 0.06)) if epi else 0.0,
        bias=float(rng.uniform(0.05, 0.25 if field_strength < 2.5 else 0.45)),
        bias_coeffs=rng.normal(size=10).astype(np.float32),
        snr=float(np.clip(snr, 6.0, 150.0)),
    )


def bias_field(shape: tuple[int, int, int], art: Artifacts) -> np.ndarray:
    """Smooth multiplicative receive field over the stack (quadratic polynomial in slice, row, column)."""
    n, r, c = shape
    z = np.linspace(-1, 1, n, dtype=np.float32)[:, None, None] if n > 1 else np.zeros((1, 1, 1), np.float32)
    y = np.linspace(-1, 1, r, dtype=np.float32)[None, :, None]
    x = np.linspace(-1, 1, c, dtype=np.float32)[None, None, :]
    k = art.bias_coeffs
    poly = k[0] * x + k[1] * y + 0.5 * k[2] * z + k[3] * x * y + k[4] * x * x + k[5] * y * y + 0.3 * k[6] * x * z
    poly = poly / (np.abs(k[:7]).sum() + 1e-6)
    return np.exp(art.bias * 2.0 * poly).astype(np.float32)


def kspace_effects(images: np.ndarray, art: Artifacts, rng: np.random.Generator) -> np.ndarray:
    """Limited resolution (with Gibbs ringing), zero-filled partial Fourier, motion and Nyquist ghosts."""
    k = np.fft.fftshift(np.fft.fft2(images, axes=(-2, -1)), axes=(-2, -1))
    rows, cols = images.shape[-2:]
    mask_r = _window(rows, art.resolution[0])
    mask_c = _window(cols, art.resolution[1])
    n_pe = rows if art.phase_axis == -2 else cols
    pe_mask = mask_r if art.phase_axis == -2 else mask_c
    if art.partial_fourier < 1.0:
        kept = np.flatnonzero(pe_mask)
        drop = int(round(len(kept) * (1.0 - art.partial_fourier)))
        pe_mask = pe_mask.copy()
        pe_mask[kept[:drop]] = 0.0
    if art.phase_axis == -2:
        mask_r = pe_mask
    else:
        mask_c = pe_mask
    k = k * (mask_r[:, None] * mask_c[None, :])
    lines = np.arange(n_pe, dtype=np.float32)
    modulation = np.ones(n_pe, dtype=np.complex64)
    if art.ghost > 0:
        if art.ghost_period > 0:
            phase = art.ghost * np.pi * np.sin(2 * np.pi * lines / art.ghost_period + rng.uniform(0, 2 * np.pi))
        else:
            phase = art.ghost * np.pi * rng.normal(size=n_pe) * (rng.random(n_pe) < 0.3)
        modulation = modulation * np.exp(1j * phase).astype(np.complex64)
    if art.nyquist > 0:  # odd/even echo mismatch: ghost shifted by half the field of view
        modulation = modulation * np.where(lines % 2 == 0, 1.0, np.exp(1j * art.nyquist * np.pi)).astype(np.complex64)
    centre = n_pe // 2  # the motion-free k-space centre keeps the main image in place
    modulation[max(0, centre - 2) : centre + 3] = 1.0
    k = k * (modulation[:, None] if art.phase_axis == -2 else modulation[None, :])
    return np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), axes=(-2, -1)).astype(np.complex64)


def _window(n: int, fraction: float) -> np.ndarray:
    """Central k-space lines kept when acquiring ``fraction`` of the displayed matrix."""
    keep = max(2, int(round(n * fraction)))
    mask = np.zeros(n, dtype=np.float32)
    start = (n - keep) // 2
    mask[start : start + keep] = 1.0
    return mask


def add_noise(images: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Complex Gaussian noise of standard deviation ``sigma`` per channel."""
    noise = rng.standard_normal(images.shape, dtype=np.float32) + 1j * rng.standard_normal(
        images.shape, dtype=np.float32
    )
    return (images + sigma * noise).astype(np.complex64)
