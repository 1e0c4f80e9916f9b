"""Batch augmentation on tensors: per-sample random affine (rotation, scale, shift, shear, flip) and intensity.

The defaults are radclass's own (between the two papers, plus intensity terms): rotation 15 deg, shift 10 %,
shear 0.1, zoom 15 %, horizontal flip, zero fill, gamma and noise for scanner/contrast variation. The papers'
settings are recipes set from TOML (``[mri_series.augment]``): Ranjbar et al. (``configs/ranjbar-4class.toml``)
rotation 25 deg, shift 10 %, shear 0.2, zoom 0.2, horizontal flip, nearest fill, no intensity terms;
Kasmanoff et al. rotation 10 deg, scale 5 %, translation 20 px.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

#: Fill modes of the area an affine moves in from outside: Keras names -> ``grid_sample`` padding modes.
FILL_MODES = {"constant": "zeros", "zeros": "zeros", "nearest": "border", "reflect": "reflection"}


@dataclass(frozen=True)
class Augment:
    """Random affine + intensity augmentation of a (n, 1, s, s) batch in [0, 1]; every field settable from TOML.

    ``rotation_deg``: uniform in +-; ``shift``: fraction of the side; ``shear``: shear factor; ``zoom``: scale in
    1 +- zoom; ``hflip``: left-right flips with p = 0.5; ``fill``: one of :data:`FILL_MODES`; ``gamma``:
    log-uniform gamma in [exp(-g), exp(g)]; ``noise``: Gaussian noise SD up to this; ``blur_p``: 3x3 box blur
    probability.
    """

    rotation_deg: float = 15.0
    shift: float = 0.1
    shear: float = 0.1
    zoom: float = 0.15
    hflip: bool = True
    gamma: float = 0.25  # log-uniform gamma in [exp(-g), exp(g)]
    noise: float = 0.03
    blur_p: float = 0.2
    fill: str = "zeros"

    def __post_init__(self) -> None:
        if self.fill not in FILL_MODES:
            raise ValueError(f"The augmentation fill mode must be one of {', '.join(FILL_MODES)}; got {self.fill!r}.")
        for name in ("rotation_deg", "shift", "shear", "zoom", "gamma", "noise", "blur_p"):
            if getattr(self, name) < 0:
                raise ValueError(f"The augmentation setting {name} must not be negative; got {getattr(self, name)}.")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n = x.shape[0]
        g = generator

        def u(lo: float, hi: float) -> torch.Tensor:
            return torch.rand(n, generator=g) * (hi - lo) + lo

        angle = u(-self.rotation_deg, self.rotation_deg) * math.pi / 180
        scale = 1 + u(-self.zoom, self.zoom)
        shear = u(-self.shear, self.shear)
        flip = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0) if self.hflip else torch.ones(n)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = cos * flip
        theta[:, 0, 1] = -sin + shear
        theta[:, 1, 0] = sin * flip
        theta[:, 1, 1] = cos
        theta[:, :, 2] = torch.stack([u(-self.shift, self.shift), u(-self.shift, self.shift)], 1) * 2
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode=FILL_MODES[self.fill], align_corners=False)
        out = out.clamp(0, 1)
        if self.gamma > 0:
            out = out ** torch.exp(u(-self.gamma, self.gamma)).view(n, 1, 1, 1)
        if self.blur_p > 0:
            blur = (torch.rand(n, generator=g) < self.blur_p).view(n, 1, 1, 1)
            out = torch.where(blur, F.avg_pool2d(out, 3, stride=1, padding=1), out)
        if self.noise > 0:
            out = out + torch.randn(out.shape, generator=g) * (torch.rand(n, 1, 1, 1, generator=g) * self.noise)
        return out.clamp(0, 1)
