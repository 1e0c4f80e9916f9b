"""Recipe ``image-classifier``: any labelled image set (a CSV ``path,label[,patient]`` or a folder of class
subfolders; PNG/DICOM/NIfTI slices), one architecture, k-fold cross-validation (by patient when the CSV has
patient IDs), out-of-fold predictions scored by ``radclass evaluate``, then a bundle trained on everything."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from radclass.diagnostic.finetune import FitConfig
from radclass.diagnostic.preprocess import Preprocess
from radclass.diagnostic.recipes.common import Logger, from_mapping, read_section, write_predictions, write_truth

__all__ = ["ImageClassifierConfig", "run_image_classifier"]


@dataclass
class ImageClassifierConfig:
    """Settings (``[image_classifier]`` of a TOML file)."""

    name: str = "image-classifier"
    version: str = "1"
    seed: int = 0
    folds: int = 5
    arch: str = "resnet18"
    input_size: int = 112
    load_size: int = 128
    channels: str = "grey"  # or "multiwindow" (CT in HU only)
    window: str = "brain"
    weights: str = ""  # local weights file (ImageNet state dict or any checkpoint); "" = random initialisation
    augment: bool = True
    flip: bool = True  # LEFT/RIGHT classes are swapped on flipped images
    val_fraction: float = 0.15
    positive: str = ""  # positive class of a binary task ("" = inferred by radclass evaluate / last class)
    fit: FitConfig = field(default_factory=lambda: FitConfig(epochs=8, frozen_epochs=2, patience=2))

    @classmethod
    def load(cls, path: Path | str | None = None, *, quick: bool = False) -> ImageClassifierConfig:
        cfg = from_mapping(cls, read_section(path, "image_classifier")) if path else cls()
        return cfg.quick() if quick else cfg

    def quick(self) -> ImageClassifierConfig:
        return replace(
            self,
            folds=2,
            input_size=64,
            load_size=72,
            fit=replace(self.fit, epochs=1, frozen_epochs=1, batch_size=8, patience=0),
        )


def run_image_classifier(
    out: Path | str, labels: Path | str, cfg: ImageClassifierConfig | None = None, *, log: Logger | None = None
) -> dict[str, Any]:
    """Cross-validate ``cfg.arch`` on the labelled set ``labels``, evaluate, and bundle a model trained on all."""
    from radclass.diagnostic.crossval import cross_validate
    from radclass.diagnostic.datasets import load_arrays, read_labelled
    from radclass.diagnostic.export import export_onnx, onnx_matches_torch
    from radclass.diagnostic.training import TrainSpec, train_classifier
    from radclass.diagnostic.transforms import eval_inputs
    from radclass.evaluate.report import run_evaluation
    from radclass.models.bundle import write_bundle_json

    cfg = cfg or ImageClassifierConfig()
    log = log or Logger()
    out = Path(out)
    images = read_labelled(labels)
    pre = Preprocess(input_size=cfg.input_size, load_size=cfg.load_size, channels=cfg.channels, window=cfg.window)
    data = load_arrays(images, cfg.load_size)
    groups = np.asarray(images.patients) if images.patients else None
    grouping = f"grouped by {len(set(images.patients or ()))} patients" if groups is not None else "no patient IDs"
    log(f"{len(images)} images, classes {data.classes}, kind {data.kind}, {grouping}")
    spec = TrainSpec(
        arch=cfg.arch,
        preprocess=pre,
        fit=replace(cfg.fit, seed=cfg.seed),
        augment=cfg.augment,
        flip=cfg.flip and cfg.augment,
        weights=cfg.weights or None,
        val_fraction=cfg.val_fraction,
    )
    cv = cross_validate(data, spec, k=cfg.folds, groups=groups, seed=cfg.seed, log=log)
    paths = [str(p) for p in images.paths]
    positive = cfg.positive or data.classes[-1]
    pred = write_predictions(
        out / "predictions" / f"{cfg.arch}.csv",
        paths,
        data.classes,
        cv.probabilities,
        positive,
        extra={"fold": cv.fold + 1},
    )
    truth = write_truth(out / "truth.csv", paths, images.labels)
    metrics, _ = run_evaluation(
        pred,
        truth,
        out / "report",
        positive=positive if len(data.classes) == 2 else None,
        n_bootstrap=200,
        band_resamples=0,
        seed=cfg.seed,
    )
    epochs = max(1, int(np.median(cv.best_epochs))) - (spec.fit.frozen_epochs if spec.pretrained else 0)
    final = replace(spec, val_fraction=0.0, fit=replace(spec.fit, epochs=max(1, epochs), patience=0))
    fitted = train_classifier(data, final, groups=None, log=lambda m: log(f"final: {m}"))
    onnx = export_onnx(fitted.model, cfg.input_size, out / "bundle" / "model.onnx")
    diff = onnx_matches_torch(fitted.model, onnx, eval_inputs(data.x[:4], data.kind, pre))
    meta = {
        "name": cfg.name,
        "version": cfg.version,
        "task": f"image classification: {', '.join(data.classes)}",
        "classes": data.classes,
        "positive": positive,
        "onnx": "model.onnx",
        "architecture": cfg.arch,
        "preprocess": pre.to_dict(),
        "input_kind_trained": data.kind,
        "trained": {
            "recipe": "image-classifier",
            "labels": str(labels),
            "n_images": len(paths),
            "epochs": len(fitted.history),
            "folds": cfg.folds,
            "cv": {k: metrics.get(k) for k in ("accuracy", "balanced_accuracy", "roc_auc", "roc_auc_macro")},
        },
    }
    write_bundle_json(out / "bundle", meta)
    summary = {
        "recipe": "image-classifier",
        "n_images": len(paths),
        "classes": data.classes,
        "accuracy": metrics.get("accuracy"),
        "balanced_accuracy": metrics.get("balanced_accuracy"),
        "roc_auc": metrics.get("roc_auc"),
        "folds": cv.folds,
        "onnx_max_abs_diff": diff,
        "config": asdict(cfg),
        "seconds": round(log.elapsed, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary
