"""The augmentations MONAI has no transform for, on MONAI's bases (one concern each): a random affine of a whole
batch (MONAI's matrices and ``AffineTransform`` warp, one draw per sample), clipping to a range, an unsharp mask,
and a horizontal mirror that also mirrors the label (left/right classes)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import torch
from monai.networks.layers import AffineTransform
from monai.transforms import GaussianSmooth, RandomizableTransform, Transform
from monai.transforms.utils import create_rotate, create_scale, create_shear, create_translate

__all__ = ["BatchTransform", "Clip", "RandBatchAffine", "RandMirrorLabeld", "UnsharpMask"]


class BatchTransform(Transform):
    """Base of transforms applied to a whole (N, C, H, W) batch at once (per-sample draws are their own)."""


class RandBatchAffine(RandomizableTransform, BatchTransform):
    """A random 2D affine per sample of an (N, C, H, W) batch, warped in one call.

    Each sample draws, uniformly in +- the given range: a rotation (radians), a shear of the first axis, a
    translation (fraction of the side) per axis and a scale ``1 + u`` per axis. The matrices are MONAI's
    (``create_translate @ create_rotate @ create_shear @ create_scale``, about the image centre) and the warp is
    ``monai.networks.layers.AffineTransform``: ``RandAffine`` without its per-sample overhead.

    Parameters
    ----------
    rotate, shear, translate, scale
        Ranges (non-negative).
    mode, padding_mode
        Interpolation and fill of the area moved in from outside (``grid_sample`` names: zeros, border,
        reflection).
    """

    def __init__(
        self,
        rotate: float = 0.0,
        shear: float = 0.0,
        translate: float = 0.0,
        scale: float = 0.0,
        mode: str = "bilinear",
        padding_mode: str = "zeros",
    ) -> None:
        for name, value in (("rotate", rotate), ("shear", shear), ("translate", translate), ("scale", scale)):
            if value < 0:
                raise ValueError(f"The random affine range {name} must not be negative; got {value}.")
        if scale >= 1:
            raise ValueError(f"The random affine scale range must be below 1 (a positive scale); got {scale}.")
        super().__init__(prob=1.0)
        self.rotate, self.shear, self.translate, self.scale = rotate, shear, translate, scale
        self.warp = AffineTransform(
            normalized=False, mode=mode, padding_mode=padding_mode, align_corners=False, zero_centered=True
        )

    def matrices(self, n: int, size: tuple[int, int]) -> torch.Tensor:
        """(n, 3, 3) random affine matrices for images of ``size`` pixels, drawn from this transform's state."""
        u = self.R.uniform
        out = [
            create_translate(2, [u(-self.translate, self.translate) * s for s in size])
            @ create_rotate(2, u(-self.rotate, self.rotate))
            @ create_shear(2, (u(-self.shear, self.shear), 0.0))
            @ create_scale(2, [1 + u(-self.scale, self.scale) for _ in size])
            for _ in range(n)
        ]
        return torch.as_tensor(np.stack(out), dtype=torch.float32)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(img)
        return self.warp(x, self.matrices(x.shape[0], (int(x.shape[-2]), int(x.shape[-1]))))


class Clip(Transform):
    """Clip intensities to ``[low, high]``."""

    def __init__(self, low: float = 0.0, high: float = 1.0) -> None:
        if not low < high:
            raise ValueError(f"The clipping range needs low < high; got [{low}, {high}].")
        self.low, self.high = low, high

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(img).clamp(self.low, self.high)


class UnsharpMask(Transform):
    """Edge enhancement ``x + amount * (x - gaussian(x, sigma))``, clipped to [0, 1] (images in [0, 1])."""

    def __init__(self, sigma: float = 1.0, amount: float = 1.0) -> None:
        if sigma <= 0 or amount < 0:
            raise ValueError(f"An unsharp mask needs sigma > 0 and amount >= 0; got sigma {sigma}, amount {amount}.")
        self.smooth, self.amount = GaussianSmooth(sigma), amount

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(img)
        return (x + self.amount * (x - torch.as_tensor(self.smooth(x)))).clamp(0, 1)


class RandMirrorLabeld(RandomizableTransform):
    """With probability ``prob``, mirror the image left-right (last axis) and map its label to the mirrored class.

    Parameters
    ----------
    image_key, label_key
        Keys of the (C, H, W) image and the 0-d integer label in the sample dict.
    permutation
        Class index -> index of its mirror class (None: labels are kept, e.g. no class names a side).
    prob
        Probability of a mirror per sample.
    """

    def __init__(
        self,
        image_key: Hashable = "image",
        label_key: Hashable = "label",
        permutation: torch.Tensor | None = None,
        prob: float = 0.5,
    ) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f"The mirror probability must lie in [0, 1]; got {prob}.")
        super().__init__(prob)
        self.image_key, self.label_key, self.permutation = image_key, label_key, permutation

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        self.randomize(None)
        out = dict(data)
        if self._do_transform:
            out[self.image_key] = torch.as_tensor(out[self.image_key]).flip(-1)
            if self.permutation is not None:
                out[self.label_key] = self.permutation[out[self.label_key]]
        return out
