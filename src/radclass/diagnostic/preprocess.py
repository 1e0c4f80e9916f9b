"""Image -> network input, identical at training and prediction time (numpy + Pillow only, no torch).

Steps: read the slice (:func:`radclass.diagnostic.images.read_image`) -> pad to a square (air for HU,
0 otherwise) -> resize to ``load_size`` (bilinear, antialiased) -> centre crop to ``input_size`` (training
takes random crops instead) -> channels -> ImageNet mean/std normalisation.

Channels (always 3, as torchvision's ImageNet architectures expect):

* ``grey``: the slice replicated 3 times; HU slices go through ``window`` first (default ``brain``);
* ``multiwindow``: HU only, one channel per window of :data:`~radclass.diagnostic.hounsfield.MULTI_WINDOW`
  (brain, blood, stroke). Display images (PNG/JPEG) were windowed before export and cannot be re-windowed:
  asking for ``multiwindow`` on them is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from radclass.diagnostic.hounsfield import MULTI_WINDOW, WINDOWS, apply_window
from radclass.diagnostic.images import SliceImage, read_image
from radclass.models.bundle import Preprocessing

__all__ = [
    "AIR_HU",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Preprocess",
    "base_array",
    "center_crop",
    "prepare",
    "square_resize",
    "to_channels",
]

AIR_HU = -1024.0
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocess(Preprocessing):
    """How a slice becomes a (3, input_size, input_size) float32 input: the bundle's
    :class:`~radclass.models.bundle.Preprocessing` with the diagnostic defaults (ImageNet normalisation) and
    the CT window checked against :data:`~radclass.diagnostic.hounsfield.WINDOWS`."""

    input_size: int = 112
    load_size: int | None = 128
    mean: tuple[float, ...] = field(default=IMAGENET_MEAN)
    std: tuple[float, ...] = field(default=IMAGENET_STD)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.window not in WINDOWS:
            raise ValueError(f"unknown window {self.window!r}: use one of {sorted(WINDOWS)}")
        if len(self.mean) != 3:
            raise ValueError(f"a diagnostic input has 3 channels, so it needs 3 means and deviations, not {self.mean}")

    def to_dict(self) -> dict[str, Any]:
        """``bundle.json``'s ``preprocess`` table (no ``slices_per_series``: one image is one input)."""
        table = super().to_dict()
        del table["slices_per_series"]
        return table

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Preprocess:
        known: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in cls.__dataclass_fields__
        }
        return cls(**known)

    @classmethod
    def of(cls, spec: Preprocessing) -> Preprocess:
        """The diagnostic form of a bundle's preprocessing (validated as such)."""
        return cls.from_dict(spec.to_dict())


def square_resize(pixels: np.ndarray, size: int, fill: float = 0.0) -> np.ndarray:
    """Pad ``pixels`` (H, W) centrally to a square with ``fill``, then resize to (size, size), float32."""
    from PIL import Image

    h, w = pixels.shape
    side = max(h, w)
    square = np.full((side, side), fill, np.float32)
    top, left = (side - h) // 2, (side - w) // 2
    square[top : top + h, left : left + w] = pixels
    if side == size:
        return square
    return np.array(Image.fromarray(square, mode="F").resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)


def base_array(image: SliceImage, load_size: int) -> np.ndarray:
    """(1, load_size, load_size) float32 in the image's own units (HU, or [0, 1])."""
    fill = AIR_HU if image.kind == "hu" else 0.0
    return square_resize(image.pixels, load_size, fill)[None]


def center_crop(arr: np.ndarray, size: int) -> np.ndarray:
    """Central (…, size, size) crop of (…, H, W)."""
    h, w = arr.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return arr[..., top : top + size, left : left + size]


def to_channels(raw: np.ndarray, kind: str, spec: Preprocess) -> np.ndarray:
    """(3, S, S) in [0, 1] from a (1, S, S) base array of ``kind``."""
    if spec.channels == "multiwindow":
        if kind != "hu":
            raise ValueError(
                "multi-window input needs CT values in HU (DICOM or NIfTI); "
                f"a {kind} image (e.g. PNG, already windowed) cannot be re-windowed"
            )
        return np.concatenate([apply_window(raw, w) for w in MULTI_WINDOW])
    grey = apply_window(raw, spec.window) if kind == "hu" else raw.astype(np.float32)
    return np.repeat(grey, 3, axis=0)


def normalize(x: np.ndarray, spec: Preprocess) -> np.ndarray:
    """ImageNet-style per-channel standardisation of (…, 3, S, S)."""
    mean = np.asarray(spec.mean, np.float32).reshape(3, 1, 1)
    std = np.asarray(spec.std, np.float32).reshape(3, 1, 1)
    return ((x - mean) / std).astype(np.float32)


def prepare(path: Path | str, spec: Preprocess) -> np.ndarray:
    """The network input (3, input_size, input_size) float32 of one image file, as at prediction time."""
    image = read_image(path)
    raw = center_crop(base_array(image, spec.load_side), spec.input_size)
    return normalize(to_channels(raw, image.kind, spec), spec)
