"""Load a local weights file into a network: an ImageNet state dict (e.g. torchvision's ``resnet50-*.pth``
saved beforehand) or any checkpoint holding one. Nothing is ever downloaded.

Tensors are matched by name (after removing ``module.`` / ``model.`` prefixes and unwrapping
``state_dict`` / ``model`` / ``model_state_dict`` entries) and shape. Tensors whose shape differs (a head for
another number of classes) are skipped, so those layers keep their fresh initialisation; a first
convolution with 3 input channels loaded into a 1-channel network is summed over its input channels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

__all__ = ["LoadReport", "load_weights", "read_state_dict"]

_WRAPPERS = ("state_dict", "model_state_dict", "model", "net", "network", "weights")
_PREFIXES = ("module.", "model.")


@dataclass
class LoadReport:
    """What :func:`load_weights` did: tensors loaded, re-initialised (shape mismatch), absent, unused."""

    loaded: list[str] = field(default_factory=list)
    reinitialised: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.loaded)} tensors loaded, {len(self.reinitialised)} re-initialised (shape mismatch), "
            f"{len(self.missing)} not in the file, {len(self.unused)} in the file unused"
        )


def read_state_dict(path: Path | str) -> dict[str, torch.Tensor]:
    """The tensors of a weights file (plain state dict or a checkpoint dict wrapping one)."""
    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    for _ in range(3):  # unwrap nested checkpoints
        if isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
            inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), dict)), None)
            if inner is None:
                break
            obj = inner
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: not a state dict or a checkpoint holding one")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f"{path}: no tensors found")
    return {_strip(k): v for k, v in tensors.items()}


def _strip(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix) :], True
    return key


def load_weights(model: nn.Module, path: Path | str) -> LoadReport:
    """Copy the matching tensors of ``path`` into ``model`` (in place); raise when nothing matches."""
    source = read_state_dict(path)
    target = model.state_dict()
    report = LoadReport()
    update: dict[str, torch.Tensor] = {}
    for name, tensor in target.items():
        if name not in source:
            report.missing.append(name)
            continue
        value = source[name]
        if value.shape == tensor.shape:
            update[name] = value.to(tensor.dtype)
            report.loaded.append(name)
        elif (
            value.ndim == 4
            and tensor.ndim == 4
            and value.shape[1] == 3
            and tensor.shape[1] == 1
            and value.shape[0] == tensor.shape[0]
            and value.shape[2:] == tensor.shape[2:]
        ):
            update[name] = value.sum(dim=1, keepdim=True).to(tensor.dtype)
            report.loaded.append(name)
        else:
            report.reinitialised.append(name)
    report.unused = sorted(set(source) - set(target))
    weight_like = [n for n in report.loaded if not n.endswith("num_batches_tracked")]
    if not weight_like:
        raise ValueError(f"{path}: no tensor matches this network by name and shape ({report.summary()})")
    model.load_state_dict(update, strict=False)
    return report
