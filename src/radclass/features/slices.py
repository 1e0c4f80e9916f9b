"""Slice preprocessing shared by training and inference (numpy + Pillow only, no torch).

Each slice is intensity-normalised to 0-1 (robust percentiles of the foreground), cropped/padded to a
square that keeps its aspect ratio, and resized to ``size`` x ``size``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

DEFAULT_SIZE = 128


def normalise(slice_: np.ndarray) -> np.ndarray:
    """Scale to 0-1 between the 0.5th and 99.5th percentiles of the non-background pixels."""
    a = np.asarray(slice_, dtype=np.float32)
    if not np.isfinite(a).all():  # (a copy only then: the input is not modified)
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    above = a > a.min()
    fg = a[above] if above.any() else a.ravel().copy()  # a copy either way: the percentile may reorder it
    lo, hi = np.percentile(fg, [0.5, 99.5], overwrite_input=True) if fg.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    return np.clip((a - lo) / (hi - lo), 0.0, 1.0)


def square(slice_: np.ndarray) -> np.ndarray:
    """Pad the shorter side with zeros (centred) so the image is square, keeping its aspect ratio."""
    h, w = slice_.shape
    n = max(h, w)
    out = np.zeros((n, n), np.float32)
    top, left = (n - h) // 2, (n - w) // 2
    out[top : top + h, left : left + w] = slice_
    return out


def resize(slice_: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of a 2D float image to ``size`` x ``size``."""
    if slice_.shape == (size, size):
        return slice_.astype(np.float32)
    im = Image.fromarray(slice_.astype(np.float32), mode="F").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(im, dtype=np.float32)


def prepare_slice(slice_: np.ndarray, size: int = DEFAULT_SIZE) -> np.ndarray:
    """normalise -> square -> resize: the CNN's input for one slice, (size, size) float32 in 0-1."""
    return np.clip(resize(square(normalise(slice_)), size), 0.0, 1.0)


def prepare_batch(slices: Sequence[np.ndarray], size: int = DEFAULT_SIZE) -> np.ndarray:
    """(n, 1, size, size) float32 batch of prepared slices."""
    if not slices:
        return np.zeros((0, 1, size, size), np.float32)
    return np.stack([prepare_slice(s, size) for s in slices])[:, None]
