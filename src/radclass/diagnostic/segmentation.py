"""2D liver segmentation: MONAI's ``FlexibleUNet`` with a ResNet34 encoder (random initialisation or a local
weights file), Dice + cross-entropy loss, AdamW with a one-cycle schedule on :class:`radclass.learning.loop.EpochLoop`,
MONAI ``RandAffined`` augmentation of image and mask together, Dice score (torch, MONAI)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from radclass.learning.augment import BatchAugment
from radclass.learning.loop import EpochLoop, one_cycle_step
from radclass.learning.seeding import seed_everything

__all__ = ["SegConfig", "build_unet", "dice_score", "predict_masks", "train_unet"]


@dataclass
class SegConfig:
    """U-Net training settings."""

    backbone: str = "resnet34"
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16, 8)
    epochs: int = 10
    batch_size: int = 16
    max_lr: float = 3e-3
    weight_decay: float = 1e-4
    rotation_deg: float = 10.0
    zoom: float = 0.1
    seed: int = 0
    threads: int = 1


def build_unet(config: SegConfig, weights: Path | str | None = None) -> nn.Module:
    """``FlexibleUNet(backbone=resnet34, pretrained=False)``, 1 input channel, 2 classes (background, liver).

    ``weights``: a local file; matching tensors are loaded (e.g. a torchvision ResNet34 state dict whose keys
    are prefixed ``encoder.`` when saved from this network).
    """
    from monai.networks.nets import FlexibleUNet

    model = FlexibleUNet(
        in_channels=1,
        out_channels=2,
        backbone=config.backbone,
        pretrained=False,
        spatial_dims=2,
        decoder_channels=tuple(config.decoder_channels),
    )
    if weights:
        from radclass.diagnostic.weights import load_weights

        load_weights(model, weights)
    return model


@functools.lru_cache(maxsize=8)
def _augmentation(rotation_deg: float, zoom: float) -> BatchAugment:
    """One random rotation and isotropic-in-range zoom per sample, the same for image (bilinear) and mask (nearest)."""
    from monai.transforms import RandAffined

    return BatchAugment(
        [
            RandAffined(
                keys=("image", "mask"),
                prob=1.0,
                rotate_range=math.radians(rotation_deg),
                scale_range=(zoom, zoom),
                mode=("bilinear", "nearest"),
                padding_mode="zeros",
            )
        ]
    )


def _augment(
    x: torch.Tensor, m: torch.Tensor, config: SegConfig, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    out = _augmentation(config.rotation_deg, config.zoom)({"image": x, "mask": m}, g)
    return out["image"], out["mask"]


def train_unet(
    images: np.ndarray,
    masks: np.ndarray,
    config: SegConfig,
    *,
    weights: Path | str | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[nn.Module, list[dict]]:
    """Train on (N, S, S) images in [0, 1] and (N, S, S) binary masks; returns the model and per-epoch loss."""
    from monai.losses import DiceCELoss

    rng, gen = seed_everything(config.seed, config.threads)
    model = build_unet(config, weights)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    opt = torch.optim.AdamW(model.parameters(), lr=config.max_lr, weight_decay=config.weight_decay)
    steps = max(1, math.ceil(len(images) / config.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.max_lr, total_steps=config.epochs * steps)
    x_all = torch.from_numpy(images[:, None].astype(np.float32))
    m_all = torch.from_numpy(masks[:, None].astype(np.float32))

    def batches(_epoch: int) -> Iterator[torch.Tensor]:
        order = rng.permutation(len(images))
        for i in range(0, len(order), config.batch_size):
            if len(order[i : i + config.batch_size]) >= 2:  # batch-norm cannot train on a single sample
                yield torch.from_numpy(order[i : i + config.batch_size])

    def loss(idx: torch.Tensor) -> tuple[torch.Tensor, int]:
        x, m = _augment(x_all[idx], m_all[idx], config, gen)
        return loss_fn(model(x), m), len(idx)

    def on_epoch(record: dict) -> None:
        if log:
            log(f"epoch={record['epoch']} loss={record['loss']:.4f}")

    run = EpochLoop(
        model, opt, config.epochs, batches, loss, after_step=functools.partial(one_cycle_step, sched), on_epoch=on_epoch
    ).run()
    model.eval()
    return model, [{"epoch": r["epoch"], "loss": r["loss"]} for r in run.history]


@torch.no_grad()
def predict_masks(model: nn.Module, images: np.ndarray, batch: int = 16) -> np.ndarray:
    """(N, S, S) bool liver masks (argmax of the two classes)."""
    model.eval()
    out = [
        model(torch.from_numpy(images[i : i + batch, None].astype(np.float32))).argmax(1).numpy().astype(bool)
        for i in range(0, len(images), batch)
    ]
    return np.concatenate(out) if out else np.zeros((0,) + images.shape[1:], bool)


def dice_score(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice coefficient 2|A∩B| / (|A| + |B|) over all voxels given (1.0 when both are empty)."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    denom = pred.sum() + truth.sum()
    return 1.0 if denom == 0 else float(2 * np.logical_and(pred, truth).sum() / denom)
