"""The augmentations MONAI has no transform for, on MONAI's bases (one concern each): clipping to a range, an
unsharp mask, and a horizontal mirror that also mirrors the label (left/right classes)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import torch
from monai.transforms import GaussianSmooth, RandomizableTransform, Transform

__all__ = ["Clip", "RandMirrorLabeld", "UnsharpMask"]


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
