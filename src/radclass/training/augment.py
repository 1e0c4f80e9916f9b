"""Batch augmentation on tensors: per-sample random affine (rotation, scale, shift, shear, flip) and intensity.

Defaults follow the literature (Ranjbar: rotation 25 deg, shifts 10 %, shear 0.2, zoom 0.2, horizontal flip;
Kasmanoff: rotation 10 deg, scale 5 %, translation 20 px); gamma and noise model scanner/contrast variation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Augment:
    rotation_deg: float = 15.0
    shift: float = 0.1
    shear: float = 0.1
    zoom: float = 0.15
    hflip: bool = True
    gamma: float = 0.25  # log-uniform gamma in [exp(-g), exp(g)]
    noise: float = 0.03
    blur_p: float = 0.2

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
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        gamma = torch.exp(u(-self.gamma, self.gamma)).view(n, 1, 1, 1)
        out = out.clamp(0, 1) ** gamma
        if self.blur_p > 0:
            blur = (torch.rand(n, generator=g) < self.blur_p).view(n, 1, 1, 1)
            out = torch.where(blur, F.avg_pool2d(out, 3, stride=1, padding=1), out)
        out = out + torch.randn(out.shape, generator=g) * (torch.rand(n, 1, 1, 1, generator=g) * self.noise)
        return out.clamp(0, 1)
