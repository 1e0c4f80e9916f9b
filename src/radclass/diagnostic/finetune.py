"""Two-phase fine-tuning of an image classifier with one-cycle schedules (torch).

* Phase 1 (only when the network starts from loaded weights, ``frozen_epochs`` > 0): the backbone is frozen
  (no gradients, batch-norm statistics fixed) and the head alone is trained with ``torch.optim.lr_scheduler.
  OneCycleLR`` peaking at ``frozen_lr``.
* Phase 2: everything is trained, one-cycle again, with layer-wise learning rates for a pretrained network:
  the backbone's parameters, in registration order (input first), are split into ``n_groups`` groups whose
  peak rate is ``max_lr * layer_decay ** (distance from the head)``. A network trained from scratch uses
  ``max_lr`` everywhere and skips phase 1.

Loss: cross-entropy with balanced class weights (``n / (K * n_k)``) when ``class_weights``. With a validation
set, the validation loss is measured after every epoch. Early stopping watches the last phase once a share
``select_after`` of its epochs is done: from then on the weights with the lowest validation loss are kept, and
training stops after ``patience`` epochs without improvement. Epochs before that are not candidates: under a
one-cycle schedule the learning rate is still rising or at its peak, and networks with many batch-norm layers
(GoogLeNet) can give near-constant, hence deceptively "low-loss", predictions in evaluation mode then.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from radclass.diagnostic.architectures import head_modules
from radclass.learning.loop import BestWeights, EpochLoop, Goal, one_cycle_step
from radclass.learning.seeding import seed_everything

__all__ = ["FitConfig", "FitResult", "class_weights", "fit", "parameter_groups", "predict_proba"]

BatchFn = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class FitConfig:
    """Hyper-parameters of :func:`fit`."""

    epochs: int = 10
    frozen_epochs: int = 2
    batch_size: int = 16
    max_lr: float = 1e-3
    frozen_lr: float = 3e-3
    layer_decay: float = 0.3
    n_groups: int = 3
    weight_decay: float = 1e-4
    class_weights: bool = True
    patience: int = 3
    select_after: float = 0.5
    seed: int = 0
    threads: int = 1


@dataclass
class FitResult:
    """The trained model (best validation weights when validated), per-epoch history, best epoch (1-based)."""

    model: nn.Module
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0


def class_weights(y: np.ndarray, n_classes: int) -> torch.Tensor:
    """Balanced weights ``n / (K * n_k)`` (0 for a class absent from ``y``)."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(w, dtype=torch.float32)


def _head_params(model: nn.Module, arch: str) -> list[nn.Parameter]:
    return [p for m in head_modules(model, arch) for p in m.parameters()]


def parameter_groups(
    model: nn.Module, arch: str, max_lr: float, layer_decay: float, n_groups: int
) -> list[dict[str, Any]]:
    """Optimizer groups: backbone split into ``n_groups`` (input first) with decaying peak rates, then the head."""
    head_ids = {id(p) for p in _head_params(model, arch)}
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    chunks = [list(c) for c in np.array_split(np.arange(len(backbone)), max(1, n_groups)) if len(c)]
    groups = [
        {"params": [backbone[i] for i in c], "lr": max_lr * layer_decay ** (len(chunks) - k)}
        for k, c in enumerate(chunks)
    ]
    return groups + [{"params": _head_params(model, arch), "lr": max_lr}]


@torch.no_grad()
def predict_proba(model: nn.Module, x: np.ndarray, batch: int = 64) -> np.ndarray:
    """Softmax probabilities (N, K) of network inputs ``x`` (N, C, H, W)."""
    model.eval()
    out = [
        F.softmax(model(torch.from_numpy(np.ascontiguousarray(x[i : i + batch]))), 1).numpy()
        for i in range(0, len(x), batch)
    ]
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def _batches(n: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = rng.permutation(n)
    chunks = [order[i : i + size] for i in range(0, n, size)]
    if len(chunks) > 1 and len(chunks[-1]) < 2:  # batch-norm cannot train on a single sample
        chunks[-2] = np.concatenate(chunks[-2:])
        chunks.pop()
    return chunks


def _set_frozen(model: nn.Module, arch: str, frozen: bool) -> None:
    head_ids = {id(p) for p in _head_params(model, arch)}
    for p in model.parameters():
        p.requires_grad_(not frozen or id(p) in head_ids)


def _train_mode(model: nn.Module, arch: str, frozen: bool) -> None:
    model.train()
    if frozen:  # fixed batch-norm statistics in the frozen backbone
        heads = head_modules(model, arch)
        head_members = {id(m) for h in heads for m in h.modules()}
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and id(m) not in head_members:
                m.eval()


def fit(
    model: nn.Module,
    arch: str,
    train_x: np.ndarray,
    train_y: np.ndarray,
    make_batch: BatchFn,
    config: FitConfig,
    *,
    n_classes: int,
    pretrained: bool = False,
    val_x: np.ndarray | None = None,
    val_y: np.ndarray | None = None,
    log: Callable[[str], None] | None = None,
) -> FitResult:
    """Train ``model`` on base arrays ``train_x`` (batches made by ``make_batch``); see the module docstring.

    ``val_x`` are ready network inputs (e.g. :func:`radclass.diagnostic.transforms.eval_inputs`).
    """
    rng, gen = seed_everything(config.seed, config.threads)
    weight = class_weights(train_y, n_classes) if config.class_weights else None
    steps = len(_batches(len(train_x), config.batch_size, np.random.default_rng(0)))
    phases: list[tuple[str, int]] = []
    if pretrained and config.frozen_epochs > 0:
        phases.append(("frozen", config.frozen_epochs))
    phases.append(("unfrozen", config.epochs))
    result = FitResult(model)
    best = BestWeights(Goal.MINIMISE, min_delta=1e-4)

    def batches(_epoch: int) -> list[np.ndarray]:
        return _batches(len(train_x), config.batch_size, rng)

    def loss(idx: np.ndarray) -> tuple[torch.Tensor, int]:
        x, y = make_batch(torch.from_numpy(train_x[idx]), torch.from_numpy(train_y[idx]), gen)
        return F.cross_entropy(model(x), y, weight=weight), len(idx)

    def evaluate(net: nn.Module) -> dict[str, float]:
        if val_x is None or val_y is None or not len(val_x):
            return {}
        p = predict_proba(net, val_x)
        nll = F.nll_loss(torch.log(torch.from_numpy(p).clamp_min(1e-7)), torch.from_numpy(val_y), weight=weight)
        return {"val_loss": float(nll), "val_acc": float((p.argmax(1) == val_y).mean())}

    def on_epoch(record: dict[str, Any]) -> None:
        if log:
            log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))

    epoch = 0
    for k_phase, (phase, n_epochs) in enumerate(phases):
        frozen = phase == "frozen"
        last = k_phase == len(phases) - 1
        _set_frozen(model, arch, frozen)
        if frozen:
            groups: list[dict[str, Any]] = [{"params": _head_params(model, arch), "lr": config.frozen_lr}]
        elif pretrained:
            groups = parameter_groups(model, arch, config.max_lr, config.layer_decay, config.n_groups)
        else:
            groups = [{"params": list(model.parameters()), "lr": config.max_lr}]
        opt = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=[g["lr"] for g in groups], total_steps=max(1, n_epochs * steps)
        )
        run = EpochLoop(
            model,
            opt,
            n_epochs,
            batches,
            loss,
            evaluate=evaluate,
            monitor="val_loss",
            best=best,
            # candidates: the last phase from a share select_after of its epochs on (see the module docstring)
            first_candidate=int(np.floor(config.select_after * n_epochs)) + 1 if last else n_epochs + 1,
            patience=0 if frozen else config.patience,
            after_step=functools.partial(one_cycle_step, sched),
            train_mode=functools.partial(_train_mode, model, arch, frozen),
            on_epoch=on_epoch,
            lr_group=-1,
            tags={"phase": phase},
            start_epoch=epoch,
        ).run()
        result.history += run.history
        epoch += len(run.history)
        if run.stopped:
            break
    _set_frozen(model, arch, False)
    result.best_epoch = best.epoch if best.restore(model) else epoch
    model.eval()
    return result
