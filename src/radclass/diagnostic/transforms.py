"""Training-time transforms on batches of base arrays (torch): the augmentations of Desai et al. 2019, CT
window augmentation, laterality-consistent horizontal flips, random crops; evaluation inputs (numpy).

A batch enters as (N, 1, load_size, load_size) in its units (HU, or [0, 1] for display images) and leaves as
(N, 3, input_size, input_size), normalised exactly as :mod:`radclass.diagnostic.preprocess` does at
prediction time.

Desai et al. (2019), basal-ganglia haemorrhage on head CT, augmented by rotations of 15 and 30 degrees, 10 %
magnification, blurring and edge enhancement, and trained on random 227 (AlexNet) / 224 (GoogLeNet) crops of
256-pixel images. Here each sample draws: a rotation from {0, ±15, ±30} degrees, a 10 % magnification with
probability 1/2, then after windowing a Gaussian blur or an edge enhancement (unsharp mask) with probability
1/4 each, and a random ``input_size`` crop of the ``load_size`` image (the crop ratio 227/256 ≈ 224/256 ≈ 0.88
is kept by the recipes' sizes).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from monai.transforms import (
    GaussianSmooth,
    Identity,
    OneOf,
    RandomizableTransform,
    RandSpatialCrop,
    RandZoom,
    Rotate,
    ScaleIntensityRange,
    ShiftIntensity,
)

from radclass.diagnostic.hounsfield import MULTI_WINDOW, WINDOWS, Window
from radclass.diagnostic.preprocess import AIR_HU, Preprocess, center_crop, normalize, to_channels
from radclass.learning.augment import BatchAugment
from radclass.learning.transforms import RandMirrorLabeld, UnsharpMask

__all__ = [
    "DesaiAugment",
    "RandWindow",
    "TrainTransform",
    "eval_inputs",
    "flip_laterality",
    "laterality_permutation",
    "mirror_label",
    "window_batch",
]


def mirror_label(label: str) -> str:
    """The class name seen in a horizontal mirror: ``LEFT`` and ``RIGHT`` swapped (as words in the name)."""
    parts = label.replace("-", "_").split("_")
    seps = [c for c in label if c in "-_"]
    swapped = [{"LEFT": "RIGHT", "RIGHT": "LEFT", "left": "right", "right": "left"}.get(p, p) for p in parts]
    out = swapped[0]
    for sep, part in zip(seps, swapped[1:]):
        out += sep + part
    return out


def laterality_permutation(classes: list[str]) -> torch.Tensor | None:
    """Index map class -> mirrored class for a flip, or None when no class names a side.

    A class naming a side whose mirror class is missing raises: flipping would create an unknown label.
    """
    mirrored = [mirror_label(c) for c in classes]
    if mirrored == list(classes):
        return None
    missing = sorted({m for m in mirrored if m not in classes})
    if missing:
        raise ValueError(f"classes name a side but their mirror classes are missing: {missing}")
    return torch.tensor([classes.index(m) for m in mirrored], dtype=torch.long)


def flip_laterality(
    x: torch.Tensor,
    y: torch.Tensor,
    permutation: torch.Tensor | None,
    p: float = 0.5,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip each sample horizontally with probability ``p``; flipped samples get their mirrored label."""
    out = BatchAugment([RandMirrorLabeld("image", "label", permutation, prob=p)])({"image": x, "label": y}, generator)
    return out["image"], out["label"]


def window_batch(raw: torch.Tensor, window: Window | torch.Tensor) -> torch.Tensor:
    """[0, 1] windowed (N, 1, H, W) HU; ``window`` a :class:`Window` or an (N, 2) tensor of (width, level)."""
    if isinstance(window, Window):
        return ((raw - window.low) / window.width).clamp(0, 1)
    width, level = window[:, 0].view(-1, 1, 1, 1), window[:, 1].view(-1, 1, 1, 1)
    return ((raw - (level - width / 2)) / width).clamp(0, 1)


@dataclass(frozen=True)
class DesaiAugment:
    """The published augmentations (see the module docstring); probabilities per sample."""

    angles: tuple[float, ...] = (0.0, 15.0, -15.0, 30.0, -30.0)
    magnification: float = 0.10
    p_magnify: float = 0.5
    p_blur: float = 0.25
    p_edge: float = 0.25
    blur_sigma: float = 1.0
    edge_amount: float = 1.0

    def __post_init__(self) -> None:
        if not self.angles:
            raise ValueError("The Desai augmentation needs at least one rotation angle (0 for none).")
        for name in ("magnification", "p_magnify", "p_blur", "p_edge", "blur_sigma", "edge_amount"):
            if getattr(self, name) < 0:
                raise ValueError(
                    f"The Desai augmentation setting {name} must not be negative; got {getattr(self, name)}."
                )
        if max(self.p_magnify, self.p_blur + self.p_edge) > 1:
            raise ValueError(
                f"The Desai augmentation probabilities must be at most 1 (p_blur + p_edge included); got "
                f"p_magnify {self.p_magnify}, p_blur {self.p_blur}, p_edge {self.p_edge}."
            )

    def geometric(self, raw: torch.Tensor, pad: float, g: torch.Generator | None) -> torch.Tensor:
        """One rotation of :attr:`angles` per sample, then a magnification with probability ``p_magnify``; the
        area moved in from outside is filled with ``pad`` (air for HU)."""
        return _geometric(self, float(pad))(raw, g)

    def photometric(self, x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
        """Blur or edge enhancement (unsharp mask) of [0, 1] channels."""
        return _photometric(self)(x, g)


@functools.lru_cache(maxsize=32)
def _geometric(aug: DesaiAugment, pad: float) -> BatchAugment:
    rotations = OneOf([Rotate(math.radians(a), mode="bilinear", padding_mode="zeros") for a in aug.angles])
    magnify = RandZoom(
        prob=aug.p_magnify,
        min_zoom=1 + aug.magnification,
        max_zoom=1 + aug.magnification,
        mode="bilinear",
        padding_mode="constant",
        keep_size=True,
    )
    # the image minus pad is zero-padded: the area moved in from outside is pad
    return BatchAugment([ShiftIntensity(-pad), rotations, magnify, ShiftIntensity(pad)])


@functools.lru_cache(maxsize=32)
def _photometric(aug: DesaiAugment) -> BatchAugment:
    # one of: blur (p_blur), edge enhancement (p_edge), nothing
    choice = OneOf(
        [GaussianSmooth(aug.blur_sigma), UnsharpMask(aug.blur_sigma, aug.edge_amount), Identity()],
        weights=[aug.p_blur, aug.p_edge, max(0.0, 1 - aug.p_blur - aug.p_edge)],
    )
    return BatchAugment([choice])


@functools.lru_cache(maxsize=32)
def _random_crop(size: int) -> BatchAugment:
    return BatchAugment([RandSpatialCrop((size, size), random_size=False)])


class RandWindow(RandomizableTransform):
    """Window augmentation of a (1, H, W) HU sample: one [0, 1] channel per window of ``names`` (MONAI
    ``ScaleIntensityRange`` from ``level - width/2`` to ``level + width/2``, clipped).

    Each window's width and level are scaled by ``1 + u``, ``u`` uniform in +-``jitter`` (drawn per channel and
    sample); with probability ``p_other`` a channel's window is replaced by one of ``others`` (jittered too).
    Names are keys of :data:`radclass.diagnostic.hounsfield.WINDOWS`.
    """

    def __init__(
        self, names: Sequence[str], jitter: float = 0.1, p_other: float = 0.0, others: Sequence[str] = ()
    ) -> None:
        unknown = sorted((set(names) | set(others)) - set(WINDOWS))
        if unknown:
            raise ValueError(f"Unknown window preset(s) {unknown}; the presets are {sorted(WINDOWS)}.")
        if not names or jitter < 0 or not 0 <= p_other <= 1 or (p_other > 0 and not others):
            raise ValueError(
                f"Window augmentation needs at least one window, jitter >= 0 and p_other in [0, 1] with windows "
                f"to switch to; got names {list(names)}, jitter {jitter}, p_other {p_other}, others {list(others)}."
            )
        super().__init__(prob=1.0)
        self.names, self.jitter, self.p_other, self.others = tuple(names), jitter, p_other, tuple(others)

    def _draw(self, name: str) -> Window:
        if self.p_other > 0 and self.R.rand() < self.p_other:
            name = self.others[self.R.randint(len(self.others))]
        w = WINDOWS[name]
        width, level = (v * (1 + self.R.uniform(-self.jitter, self.jitter)) for v in (w.width, w.level))
        return Window(width, level)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        windows = [self._draw(name) for name in self.names]
        return torch.cat(
            [torch.as_tensor(ScaleIntensityRange(w.low, w.high, 0.0, 1.0, clip=True)(img)) for w in windows]
        )


class TrainTransform:
    """Base arrays + labels -> augmented, normalised network inputs + (possibly mirrored) labels.

    ``augment``: the Desai augmentations and random crops (else a centre crop only). ``window_jitter``
    (HU only): each window's width and level scaled by up to ±``window_jitter``, and in ``grey`` mode the
    window replaced by another preset (brain/blood/stroke) with probability ``p_other_window``.
    ``flip``: horizontal flips with probability 1/2, swapping LEFT/RIGHT classes (:func:`mirror_label`).
    """

    def __init__(
        self,
        spec: Preprocess,
        kind: str,
        classes: list[str],
        *,
        augment: bool = True,
        flip: bool = False,
        window_jitter: float = 0.1,
        p_other_window: float = 0.3,
        desai: DesaiAugment | None = None,
    ):
        if spec.channels == "multiwindow" and kind != "hu":
            raise ValueError("multi-window input needs CT values in HU; these images are already windowed")
        self.spec, self.kind, self.augment, self.flip = spec, kind, augment, flip
        self.window_jitter, self.p_other_window = window_jitter, p_other_window
        self.desai = desai or DesaiAugment()
        self.permutation = laterality_permutation(classes) if flip else None
        self._window_augment: BatchAugment | None = None
        if kind == "hu" and augment:
            if spec.channels == "multiwindow":
                rand = RandWindow(MULTI_WINDOW, window_jitter)
            else:
                others = [name for name in MULTI_WINDOW if name != spec.window] or [spec.window]
                rand = RandWindow((spec.window,), window_jitter, p_other_window, others)
            self._window_augment = BatchAugment([rand])
        self.mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
        self.std = torch.tensor(spec.std).view(1, 3, 1, 1)

    def _channels(self, raw: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
        if self.kind != "hu":
            return raw.repeat(1, 3, 1, 1)
        if self._window_augment is not None:
            x = self._window_augment(raw, g)
        else:
            names = MULTI_WINDOW if self.spec.channels == "multiwindow" else (self.spec.window,)
            x = torch.cat([window_batch(raw, WINDOWS[name]) for name in names], 1)
        return x if x.shape[1] == 3 else x.repeat(1, 3, 1, 1)

    def __call__(
        self, raw: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        g = generator
        pad = AIR_HU if self.kind == "hu" else 0.0
        if self.flip:
            raw, y = flip_laterality(raw, y, self.permutation, 0.5, g)
        if self.augment:
            raw = _random_crop(self.spec.input_size)(self.desai.geometric(raw, pad, g), g)
        else:
            raw = torch.from_numpy(np.ascontiguousarray(center_crop(raw.numpy(), self.spec.input_size)))
        x = self._channels(raw, g)
        if self.augment:
            x = self.desai.photometric(x, g)
        return (x - self.mean) / self.std, y


def eval_inputs(raw: np.ndarray, kind: str, spec: Preprocess) -> np.ndarray:
    """(N, 3, S, S) network inputs of base arrays, exactly as :func:`radclass.diagnostic.preprocess.prepare`."""
    cropped = center_crop(raw, spec.input_size)
    return np.stack([normalize(to_channels(r, kind, spec), spec) for r in cropped]).astype(np.float32)
