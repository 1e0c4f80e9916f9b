"""Self-supervised pretraining without labels: predict by how many quarter turns an image was rotated
(Gidaris et al. 2018, "Unsupervised representation learning by predicting image rotations") (torch).

The source images for the ``ct-hemorrhage`` recipe are the data pool's other real images (brain MRI and
abdominal CT/MR NIfTI volumes, a few slices each): never the head-CT slices being classified, so no image
of a cross-validation test fold is seen during pretraining. The result is a state dict with a 4-class head;
loading it into a classifier re-initialises the head (:func:`radclass.diagnostic.weights.load_weights`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from radclass.diagnostic.architectures import build_classifier
from radclass.diagnostic.finetune import FitConfig, fit
from radclass.diagnostic.images import SliceImage
from radclass.diagnostic.preprocess import Preprocess, base_array
from radclass.diagnostic.transforms import DesaiAugment, TrainTransform
from radclass.io.pixels import nifti_axial_slices

__all__ = ["pool_pretraining_images", "rotation_pretrain"]


def _unit(a: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(a, [1, 99])
    return np.clip((a - lo) / (hi - lo), 0, 1).astype(np.float32) if hi > lo else np.zeros_like(a, np.float32)


def pool_pretraining_images(
    root: Path | str, load_size: int, *, per_volume: int = 6, limit: int | None = None
) -> np.ndarray:
    """(N, 1, load_size, load_size) slices in [0, 1] from the pool's NIfTI image volumes (MANIFEST rows with
    usable pixels, masks excluded, head CT excluded): ``per_volume`` evenly spaced axial slices holding tissue."""
    import csv

    root = Path(root)
    with open(root / "MANIFEST.csv", newline="") as fh:
        rows = [
            r
            for r in csv.DictReader(fh)
            if r["format"] == "nifti"
            and r["pixels_usable"] == "1"
            and not r["series_description"].startswith("MASK:")
            and r["dataset"] != "ct-head-hemorrhage"
        ]
    out: list[np.ndarray] = []
    for r in rows:
        slices = nifti_axial_slices(root / r["relpath"])  # (z, H, W), first volume, radiological display
        energy = (slices > np.percentile(slices, 50)).mean(axis=(1, 2))
        keep = np.flatnonzero(energy > 0.3 * energy.max()) if energy.max() > 0 else np.arange(len(slices))
        picks = keep[np.linspace(0, len(keep) - 1, min(per_volume, len(keep))).round().astype(int)]
        for z in picks:
            out.append(base_array(SliceImage(_unit(slices[z]), "display"), load_size))
        if limit and len(out) >= limit:
            break
    if not out:
        raise ValueError(f"no NIfTI image volumes found under {root}")
    return np.stack(out[:limit] if limit else out)


def rotation_pretrain(
    images: np.ndarray, arch: str, spec: Preprocess, config: FitConfig, log: Callable[[str], None] | None = None
) -> dict[str, torch.Tensor]:
    """Train ``arch`` from scratch to tell 0/90/180/270 degree rotations of ``images`` apart; its state dict."""
    model = build_classifier(arch, 4, input_size=spec.input_size)
    transform = TrainTransform(
        spec, "display", ["r0", "r90"], augment=True, flip=True, desai=DesaiAugment(angles=(0.0,))
    )

    def make_batch(raw: torch.Tensor, _y: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, _ = transform(raw, torch.zeros(len(raw), dtype=torch.long), g)
        turns = torch.randint(4, (len(x),), generator=g)
        x = torch.stack([torch.rot90(xi, int(k), dims=(1, 2)) for xi, k in zip(x, turns)])
        return x, turns

    labels = np.zeros(len(images), np.int64)  # placeholders: the rotation labels are drawn per batch
    config = replace(config, class_weights=False, patience=0)
    result = fit(model, arch, images, labels, make_batch, config, n_classes=4, pretrained=False, log=log)
    return {k: v.detach().clone() for k, v in result.model.state_dict().items()}
