"""Train one image classifier from base arrays: build the architecture, load weights (a file or a state
dict), hold out an inner validation split for early stopping, two-phase fine-tune (torch)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from radclass.diagnostic.architectures import build_classifier
from radclass.diagnostic.datasets import ImageArrays
from radclass.diagnostic.finetune import FitConfig, FitResult, fit
from radclass.diagnostic.preprocess import Preprocess
from radclass.diagnostic.transforms import DesaiAugment, TrainTransform, eval_inputs
from radclass.diagnostic.weights import load_weights

__all__ = ["TrainSpec", "inner_split", "train_classifier"]


@dataclass
class TrainSpec:
    """Everything that defines how one classifier is trained.

    ``weights``: a weights file path (ImageNet or any checkpoint) or an in-memory state dict (e.g. from
    self-supervised pretraining), or None for random initialisation. ``val_fraction``: share of the training
    images held out (stratified, by patient when known) for early stopping; 0 trains on everything for
    ``fit.epochs`` epochs.
    """

    arch: str = "googlenet"
    preprocess: Preprocess = field(default_factory=Preprocess)
    fit: FitConfig = field(default_factory=FitConfig)
    augment: bool = True
    flip: bool = True
    weights: Path | str | dict | None = None
    val_fraction: float = 0.15
    desai: DesaiAugment = field(default_factory=DesaiAugment)

    @property
    def pretrained(self) -> bool:
        return self.weights is not None


def inner_split(y: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices: a stratified share ``fraction`` held out, whole patients when grouped."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedShuffleSplit

    idx = np.arange(len(y))
    if fraction <= 0:
        return idx, idx[:0]
    if groups is not None:
        per_class = min(len(np.unique(groups[y == c])) for c in np.unique(y))
        n_splits = min(max(2, int(round(1 / fraction))), per_class)
        if n_splits < 2:  # a class lives in a single patient: no patient-disjoint validation split exists
            return idx, idx[:0]
        train, val = next(StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed).split(idx, y, groups))
        return train, val
    n_val = max(len(np.unique(y)), int(round(fraction * len(y))))
    split = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
    return next(split.split(idx, y))


def _initial_model(spec: TrainSpec, n_classes: int, log: Callable[[str], None] | None) -> nn.Module:
    model = build_classifier(spec.arch, n_classes, input_size=spec.preprocess.input_size)
    if spec.weights is None:
        return model
    if isinstance(spec.weights, dict):
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "weights.pt"
            torch.save(spec.weights, path)
            report = load_weights(model, path)
    else:
        report = load_weights(model, spec.weights)
    if log:
        log(f"weights: {report.summary()}")
    return model


def train_classifier(
    data: ImageArrays, spec: TrainSpec, *, groups: np.ndarray | None = None, log: Callable[[str], None] | None = None
) -> FitResult:
    """Train ``spec.arch`` on ``data`` (base arrays); returns the fitted model and its history."""
    n_classes = len(data.classes)
    model = _initial_model(spec, n_classes, log)
    train, val = inner_split(data.y, groups, spec.val_fraction, spec.fit.seed)
    transform = TrainTransform(
        spec.preprocess, data.kind, data.classes, augment=spec.augment, flip=spec.flip, desai=spec.desai
    )
    val_x = eval_inputs(data.x[val], data.kind, spec.preprocess) if len(val) else None
    return fit(
        model,
        spec.arch,
        data.x[train],
        data.y[train],
        transform,
        spec.fit,
        n_classes=n_classes,
        pretrained=spec.pretrained,
        val_x=val_x,
        val_y=data.y[val] if len(val) else None,
        log=log,
    )
