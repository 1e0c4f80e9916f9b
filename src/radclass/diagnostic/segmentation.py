"""2D liver segmentation: MONAI's ``FlexibleUNet`` with a ResNet34 encoder (random initialisation or a local
weights file), Dice + cross-entropy loss, AdamW with a one-cycle schedule, Dice score (torch, MONAI)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

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


def _augment(
    x: torch.Tensor, m: torch.Tensor, config: SegConfig, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    n = x.shape[0]
    angle = (torch.rand(n, generator=g) * 2 - 1) * config.rotation_deg * math.pi / 180
    scale = 1 + (torch.rand(n, generator=g) * 2 - 1) * config.zoom
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = torch.cos(angle) / scale, -torch.sin(angle) / scale
    theta[:, 1, 0], theta[:, 1, 1] = torch.sin(angle) / scale, torch.cos(angle) / scale
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    m = F.grid_sample(m, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return x, m


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

    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    model = build_unet(config, weights)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    opt = torch.optim.AdamW(model.parameters(), lr=config.max_lr, weight_decay=config.weight_decay)
    steps = max(1, math.ceil(len(images) / config.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.max_lr, total_steps=config.epochs * steps)
    x_all = torch.from_numpy(images[:, None].astype(np.float32))
    m_all = torch.from_numpy(masks[:, None].astype(np.float32))
    history = []
    for epoch in range(1, config.epochs + 1):
        model.train()
        order, total = rng.permutation(len(images)), 0.0
        for i in range(0, len(order), config.batch_size):
            idx = torch.from_numpy(order[i : i + config.batch_size])
            if len(idx) < 2:
                continue
            x, m = _augment(x_all[idx], m_all[idx], config, gen)
            loss = loss_fn(model(x), m)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched.last_epoch < sched.total_steps - 1:
                sched.step()
            total += float(loss.detach()) * len(idx)
        history.append({"epoch": epoch, "loss": total / len(images)})
        if log:
            log(f"epoch={epoch} loss={history[-1]['loss']:.4f}")
    model.eval()
    return model, history


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
