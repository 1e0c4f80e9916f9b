"""Overlay of a heat map on a grey image slice, as an RGB array or a PNG file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from numpy.typing import ArrayLike
from PIL import Image

__all__ = ["overlay", "save_overlay"]


def _grey(image: ArrayLike) -> np.ndarray:
    """2D image scaled to [0, 1] between its 1st and 99th percentiles (channels averaged)."""
    a = np.asarray(image, dtype=np.float32)
    if a.ndim == 4:
        a = a[0]
    if a.ndim == 3:
        a = a.mean(axis=0) if a.shape[0] <= 4 else a.mean(axis=-1)
    if a.ndim != 2:
        raise ValueError(f"expected a 2D slice, got shape {a.shape}")
    a = np.nan_to_num(a)
    lo, hi = np.percentile(a, [1, 99])
    return np.clip((a - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(a)


def overlay(image: ArrayLike, heatmap: ArrayLike, *, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """(H, W, 3) uint8: the grey slice with ``heatmap`` (values in [0, 1]) coloured by ``cmap`` on top.

    Each pixel's colour weight is ``alpha * heat``, so unimportant regions stay grey. A heat map of another
    size is resized (bilinear) to the image.
    """
    grey = _grey(image)
    heat = np.clip(np.nan_to_num(np.asarray(heatmap, dtype=np.float32)), 0, 1)
    if heat.shape != grey.shape:
        heat = np.asarray(Image.fromarray(heat, mode="F").resize(grey.shape[::-1], Image.Resampling.BILINEAR))
    colour = colormaps[cmap](heat)[..., :3]
    weight = (alpha * heat)[..., None]
    rgb = (1 - weight) * grey[..., None] + weight * colour
    return (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)


def save_overlay(
    path: Path | str, image: ArrayLike, heatmap: ArrayLike, *, alpha: float = 0.5, cmap: str = "jet"
) -> Path:
    """Write :func:`overlay` as a PNG and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(overlay(image, heatmap, alpha=alpha, cmap=cmap), mode="RGB").save(path)
    return path
