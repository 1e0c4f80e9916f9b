"""The one base of every training augmentation: a MONAI pipeline applied sample by sample to a batch.

Each concern is one MONAI transform (``RandAffine``, ``RandFlip``, ``RandAdjustContrast``, ``RandGaussianNoise``,
``RandGaussianSmooth``, ``RandSpatialCrop``...; the few MONAI lacks are in :mod:`radclass.learning.transforms`),
composed with ``monai.transforms.Compose``. Per-sample transforms see one sample at a time; a
:class:`radclass.learning.transforms.BatchTransform` (e.g. the batched random affine, much faster than
``RandAffine`` sample by sample) sees the whole batch and draws per-sample parameters itself; the order given is
kept. A :class:`BatchAugment` is reseeded at every call from the caller's ``torch.Generator``
(``set_random_state`` of each stage), so a training run seeded once
(:func:`radclass.learning.seeding.seed_everything`) draws the same augmentations every time. Metadata tracking
is off while a batch is transformed: samples go in and come out as plain tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, overload

import torch
from monai.data import get_track_meta, set_track_meta
from monai.transforms import Compose
from monai.utils import convert_to_tensor

from radclass.learning.transforms import BatchTransform

__all__ = ["BatchAugment"]

_MAX_SEED = 2**31 - 1


class BatchAugment:
    """MONAI transforms composed and applied to each sample of a batch, reproducibly under a generator.

    Parameters
    ----------
    transforms
        MONAI array transforms (a batch is a tensor (N, C, H, W); each sample (C, H, W)) or dictionary
        transforms (a batch is a mapping of tensors with a common first dimension; each sample a dict), and
        :class:`~radclass.learning.transforms.BatchTransform` s applied to the whole batch, in this order.
    """

    def __init__(self, transforms: Sequence[Callable[..., Any]]) -> None:
        if not transforms:
            raise ValueError("A batch augmentation needs at least one transform.")
        runs: list[tuple[bool, list[Callable[..., Any]]]] = []  # (whole batch?, transforms), in the order given
        for t in transforms:
            whole = isinstance(t, BatchTransform)
            if runs and runs[-1][0] == whole:
                runs[-1][1].append(t)
            else:
                runs.append((whole, [t]))
        self.stages = [(whole, Compose(ts)) for whole, ts in runs]

    def reseed(self, generator: torch.Generator | None = None) -> None:
        """Seed every random transform from one draw of ``generator`` (torch's global generator when None)."""
        seed = int(torch.randint(_MAX_SEED, (1,), generator=generator))
        for k, (_, stage) in enumerate(self.stages):
            stage.set_random_state(seed=(seed + k) % _MAX_SEED)

    @overload
    def __call__(self, batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor: ...

    @overload
    def __call__(
        self, batch: Mapping[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]: ...

    def __call__(
        self, batch: torch.Tensor | Mapping[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        """Augment every sample of ``batch``; the same generator state gives the same result."""
        self.reseed(generator)
        tracking = get_track_meta()
        set_track_meta(False)
        try:
            for whole, stage in self.stages:
                batch = stage(batch) if whole else _per_sample(stage, batch)
            return {k: _plain(v) for k, v in batch.items()} if isinstance(batch, Mapping) else _plain(batch)
        finally:
            set_track_meta(tracking)


def _per_sample(
    stage: Compose, batch: torch.Tensor | Mapping[str, torch.Tensor]
) -> torch.Tensor | dict[str, torch.Tensor]:
    if isinstance(batch, Mapping):
        n = len(next(iter(batch.values())))
        samples = [stage({k: v[i] for k, v in batch.items()}) for i in range(n)]
        return {k: torch.stack([_plain(s[k]) for s in samples]) for k in batch}
    return torch.stack([_plain(stage(x)) for x in batch])


def _plain(x: Any) -> torch.Tensor:
    return convert_to_tensor(x, track_meta=False)
