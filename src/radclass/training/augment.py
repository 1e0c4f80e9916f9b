"""Batch augmentation of MRI slices, as MONAI transforms: random affine (rotation, scale, shift, shear), horizontal
flip, gamma, blur and noise, composed on :class:`radclass.learning.augment.BatchAugment`.

The defaults are radclass's own (between the two papers, plus intensity terms): rotation 15 deg, shift 10 %,
shear 0.1, zoom 15 %, horizontal flip, zero fill, gamma, blur and noise for scanner/contrast variation. The
papers' settings are recipes set from TOML (``[mri_series.augment]``): Ranjbar et al.
(``configs/ranjbar-4class.toml``) rotation 25 deg, shift 10 %, shear 0.2, zoom 0.2, horizontal flip, nearest
fill, no intensity terms; Kasmanoff et al. rotation 10 deg, scale 5 %, translation 20 px.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from monai.transforms import RandAdjustContrast, RandFlip, RandGaussianNoise, RandGaussianSmooth

from radclass.learning.augment import BatchAugment
from radclass.learning.transforms import Clip, RandBatchAffine

#: Fill modes of the area an affine moves in from outside: Keras names -> MONAI (``grid_sample``) padding modes.
FILL_MODES = {"constant": "zeros", "zeros": "zeros", "nearest": "border", "reflect": "reflection"}


@dataclass(frozen=True)
class Augment:
    """Random affine + intensity augmentation of a (n, 1, s, s) batch in [0, 1]; every field settable from TOML.

    ``rotation_deg``: uniform in +- (:class:`~radclass.learning.transforms.RandBatchAffine`, on the whole
    batch); ``shift``: fraction of the side; ``shear``: shear factor in +-; ``zoom``: scale of each axis in
    1 +- zoom; ``hflip``: left-right flips with p = 0.5 (``RandFlip``); ``fill``: one of :data:`FILL_MODES`;
    ``gamma``: gamma uniform in [exp(-g), exp(g)] (``RandAdjustContrast``); ``noise``: Gaussian noise SD uniform
    up to this (``RandGaussianNoise``); ``blur_p``: probability of a Gaussian blur, sigma 0.5-1 pixel
    (``RandGaussianSmooth``). Intensities are clipped to [0, 1] after the affine and at the end.
    """

    rotation_deg: float = 15.0
    shift: float = 0.1
    shear: float = 0.1
    zoom: float = 0.15
    hflip: bool = True
    gamma: float = 0.25
    noise: float = 0.03
    blur_p: float = 0.2
    fill: str = "zeros"

    def __post_init__(self) -> None:
        if self.fill not in FILL_MODES:
            raise ValueError(f"The augmentation fill mode must be one of {', '.join(FILL_MODES)}; got {self.fill!r}.")
        for name in ("rotation_deg", "shift", "shear", "zoom", "gamma", "noise", "blur_p"):
            if getattr(self, name) < 0:
                raise ValueError(f"The augmentation setting {name} must not be negative; got {getattr(self, name)}.")
        if self.blur_p > 1:
            raise ValueError(f"The augmentation setting blur_p is a probability, at most 1; got {self.blur_p}.")

    def transforms(self) -> list[Callable[..., Any]]:
        """The MONAI transforms, in order (the affine on the whole batch, the others per sample)."""
        out: list[Callable[..., Any]] = []
        if self.hflip:
            out.append(RandFlip(prob=0.5, spatial_axis=1))
        out += [
            RandBatchAffine(
                rotate=math.radians(self.rotation_deg),
                shear=self.shear,
                translate=self.shift,
                scale=self.zoom,
                padding_mode=FILL_MODES[self.fill],
            ),
            Clip(0.0, 1.0),
        ]
        if self.gamma > 0:
            out.append(RandAdjustContrast(prob=1.0, gamma=(math.exp(-self.gamma), math.exp(self.gamma))))
        if self.blur_p > 0:
            out.append(RandGaussianSmooth(sigma_x=(0.5, 1.0), sigma_y=(0.5, 1.0), prob=self.blur_p))
        if self.noise > 0:
            out += [RandGaussianNoise(prob=1.0, std=self.noise, sample_std=True), Clip(0.0, 1.0)]
        return out

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment the (n, 1, s, s) batch ``x``; the same generator state gives the same batch."""
        return _pipeline(self)(x, generator)


@functools.lru_cache(maxsize=16)
def _pipeline(augment: Augment) -> BatchAugment:
    return BatchAugment(augment.transforms())
