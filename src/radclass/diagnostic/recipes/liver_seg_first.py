"""Recipe ``liver-seg-first``: segment the liver first, then classify the masked slice.

1. A 2D U-Net with a ResNet34 encoder (MONAI ``FlexibleUNet``) is trained on the pool's real liver volumes
   (:mod:`radclass.diagnostic.liver`: IRCAD CT, TotalSegmentator example CT and MR) and scored by Dice on
   held-out blocks of consecutive slices (every 5th block of 8 slices, one gap slice either side).
2. A ResNet50 classifies the liver-masked slice (image x mask), trained with its backbone frozen, then
   unfrozen with layer-wise learning rates, one-cycle each (:mod:`radclass.diagnostic.finetune`).

No public cirrhosis (or other diagnostic) labels exist for these volumes, so the classification stage is
exercised on a task labelled honestly from the reference masks: **which craniocaudal half of the liver a
slice shows** (SUPERIOR / INFERIOR of the middle of the liver's extent in that volume). Any user labels work
the same way. Held-out slices are classified after masking with the U-Net's prediction (the real pipeline)
and, for comparison, with the reference mask; both are scored with ``radclass evaluate`` (AUC with DeLong CI,
DeLong test between the two). Grad-CAM overlays (``radclass.explain``) of held-out slices are written.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from radclass.diagnostic.finetune import FitConfig
from radclass.diagnostic.recipes.common import (
    Logger,
    auc_with_ci,
    from_mapping,
    read_section,
    write_predictions,
    write_truth,
)
from radclass.diagnostic.segmentation import SegConfig

__all__ = ["LiverSegFirstConfig", "run_liver_seg_first"]

CLASSES = ["INFERIOR", "SUPERIOR"]


@dataclass
class LiverSegFirstConfig:
    """Settings of the ``liver-seg-first`` recipe (``[liver_seg_first]`` in ``configs/liver-seg-first.toml``)."""

    seed: int = 0
    volumes: tuple[str, ...] = ("ircad", "totalseg-ct", "totalseg-mr")
    size: int = 96  # working resolution of both stages (U-Net input; classifier base image)
    block: int = 8
    every: int = 5
    offset: int = 2
    gap: int = 1
    background_fraction: float = 0.25  # training slices without liver kept, as a share of those with liver
    unet_weights: str = ""
    seg: SegConfig = field(default_factory=SegConfig)
    arch: str = "resnet50"
    input_size: int = 88  # classifier crop of the ``size`` image
    weights: str = ""  # local ResNet50 weights (e.g. ImageNet); "" = rotation pretraining on the training slices
    pretrain_epochs: int = 3
    min_liver_fraction: float = 0.02
    augment: bool = True
    fit: FitConfig = field(
        default_factory=lambda: FitConfig(epochs=5, frozen_epochs=2, batch_size=16, max_lr=1e-3, patience=0)
    )
    gradcam_images: int = 4

    @classmethod
    def load(cls, path: Path | str | None = None, *, quick: bool = False) -> LiverSegFirstConfig:
        cfg = from_mapping(cls, read_section(path, "liver_seg_first"))
        return cfg.quick() if quick else cfg

    def quick(self) -> LiverSegFirstConfig:
        """A seconds-long end-to-end run: the 20-slice MR volume, 64-pixel slices, one epoch per stage."""
        return replace(
            self,
            volumes=("totalseg-mr",),
            size=64,
            block=2,
            every=3,
            offset=1,
            gap=0,
            input_size=56,
            pretrain_epochs=1,
            gradcam_images=1,
            seg=replace(self.seg, epochs=1, batch_size=8),
            fit=replace(self.fit, epochs=1, frozen_epochs=1, batch_size=8),
        )


@dataclass
class _Slices:
    """Slices of all volumes at the working size with their provenance."""

    image: np.ndarray
    mask: np.ndarray
    volume: np.ndarray
    index: np.ndarray
    path: list[str]
    label: list[str]  # "" where the slice gets no half label
    test: np.ndarray


def _collect(cfg: LiverSegFirstConfig, root: Path) -> _Slices:
    from radclass.diagnostic.liver import block_split, half_labels, load_liver_volumes, resize_slices

    parts: dict[str, list] = {k: [] for k in ("image", "mask", "volume", "index", "path", "label", "test")}
    for v in load_liver_volumes(root, cfg.volumes):
        n = len(v.image)
        train, test = block_split(n, cfg.block, cfg.every, cfg.offset, cfg.gap)
        halves = half_labels(v.mask, cfg.min_liver_fraction)
        keep = np.sort(np.concatenate([train, test]))
        parts["image"].append(resize_slices(v.image[keep], cfg.size))
        parts["mask"].append(resize_slices(v.mask[keep].astype(np.float32), cfg.size, nearest=True) > 0.5)
        parts["volume"] += [v.name] * len(keep)
        parts["index"] += keep.tolist()
        parts["path"] += [f"{v.path}#z={i:03d}" for i in keep]
        parts["label"] += [halves.get(int(i), "") for i in keep]
        parts["test"] += [bool(i in set(test.tolist())) for i in keep]
    return _Slices(
        np.concatenate(parts["image"]),
        np.concatenate(parts["mask"]),
        np.array(parts["volume"]),
        np.array(parts["index"]),
        parts["path"],
        parts["label"],
        np.array(parts["test"]),
    )


def _segmentation_training_set(s: _Slices, cfg: LiverSegFirstConfig) -> np.ndarray:
    """Training slices: all with liver, plus a share of those without (chosen at random)."""
    rng = np.random.default_rng(cfg.seed)
    train = np.flatnonzero(~s.test)
    has = s.mask[train].reshape(len(train), -1).any(1)
    background = rng.permutation(train[~has])[: int(round(cfg.background_fraction * has.sum()))]
    return np.sort(np.concatenate([train[has], background]))


def run_liver_seg_first(
    out: Path | str,
    cfg: LiverSegFirstConfig | None = None,
    *,
    root: Path | str | None = None,
    log: Logger | None = None,
) -> dict[str, Any]:
    """Run the recipe into ``out``; returns the summary (also ``out/summary.json``)."""
    from radclass.config import data_root
    from radclass.diagnostic.segmentation import dice_score, predict_masks, train_unet

    cfg = cfg or LiverSegFirstConfig()
    log = log or Logger()
    out, root = Path(out), Path(root) if root else data_root()
    out.mkdir(parents=True, exist_ok=True)
    s = _collect(cfg, root)
    seg_train = _segmentation_training_set(s, cfg)
    log(
        f"{len(s.path)} slices from {len(cfg.volumes)} volumes; U-Net trains on {len(seg_train)}, "
        f"{int(s.test.sum())} held out"
    )
    seg_cfg = replace(cfg.seg, seed=cfg.seed)
    start = log.elapsed
    unet, seg_history = train_unet(
        s.image[seg_train],
        s.mask[seg_train],
        seg_cfg,
        weights=cfg.unet_weights or None,
        log=lambda m: log(f"u-net: {m}"),
    )
    seg_seconds = round(log.elapsed - start, 1)
    test = np.flatnonzero(s.test)
    predicted = np.zeros_like(s.mask)
    predicted[test] = predict_masks(unet, s.image[test])
    dice = {"all_held_out": dice_score(predicted[test], s.mask[test])}
    for name in cfg.volumes:
        sel = test[s.volume[test] == name]
        dice[name] = dice_score(predicted[sel], s.mask[sel])
    log("Dice on held-out slices: " + ", ".join(f"{k} {v:.3f}" for k, v in dice.items()))
    classification = _classify(cfg, s, predicted, out, log)
    summary = {
        "recipe": "liver-seg-first",
        "volumes": list(cfg.volumes),
        "n_slices": len(s.path),
        "n_held_out": int(len(test)),
        "n_unet_train": int(len(seg_train)),
        "dice": dice,
        "unet_seconds": seg_seconds,
        "unet_history": seg_history,
        "classification": classification,
        "config": asdict(cfg),
        "seconds": round(log.elapsed, 1),
    }
    _overlays(s, predicted, test, out / "segmentation", cfg.gradcam_images)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    _write_card(out, summary)
    return summary


def _classify(cfg: LiverSegFirstConfig, s: _Slices, predicted: np.ndarray, out: Path, log: Logger) -> dict[str, Any]:
    """Train the ResNet50 on reference-masked training slices; predict held-out slices masked both ways."""
    from radclass.diagnostic.datasets import ImageArrays
    from radclass.diagnostic.finetune import predict_proba
    from radclass.diagnostic.preprocess import Preprocess
    from radclass.diagnostic.pretrain import rotation_pretrain
    from radclass.diagnostic.training import TrainSpec, train_classifier
    from radclass.diagnostic.transforms import eval_inputs
    from radclass.evaluate.report import run_evaluation

    labelled = np.array([bool(label) for label in s.label])
    train, test = np.flatnonzero(labelled & ~s.test), np.flatnonzero(labelled & s.test)
    y = np.array([CLASSES.index(label) if label else -1 for label in s.label])
    spec_pre = Preprocess(input_size=cfg.input_size, load_size=cfg.size)
    start = log.elapsed
    weights: Any = cfg.weights or None
    if weights is None:
        fit = replace(cfg.fit, epochs=cfg.pretrain_epochs, seed=cfg.seed)
        weights = rotation_pretrain(
            s.image[~s.test][:, None],
            cfg.arch,
            spec_pre,
            fit,
            log=lambda m: log(f"{cfg.arch} rotation pretraining: {m}"),
        )
        pretraining = f"rotation prediction on the {int((~s.test).sum())} training slices (unmasked, unlabelled)"
    else:
        pretraining = f"weights file {cfg.weights}"
    data = ImageArrays((s.image * s.mask)[train][:, None], y[train], "display", CLASSES)
    spec = TrainSpec(
        arch=cfg.arch,
        preprocess=spec_pre,
        fit=replace(cfg.fit, seed=cfg.seed),
        augment=cfg.augment,
        flip=False,
        weights=weights,
        val_fraction=0.0,
    )
    result = train_classifier(data, spec, log=lambda m: log(f"{cfg.arch}: {m}"))
    seconds = round(log.elapsed - start, 1)
    paths = [s.path[i] for i in test]
    truth = write_truth(out / "classification" / "truth.csv", paths, [s.label[i] for i in test])
    csvs: dict[str, Path] = {}
    figures: dict[str, Any] = {}
    for masking, masks in (("unet_mask", predicted), ("reference_mask", s.mask)):
        x = eval_inputs((s.image * masks)[test][:, None], "display", spec_pre)
        proba = predict_proba(result.model, x)
        csvs[masking] = write_predictions(out / "classification" / f"{masking}.csv", paths, CLASSES, proba, "SUPERIOR")
        if len(set(y[test])) == 2:
            auc, low, high = auc_with_ci(y[test], proba[:, 1])
            figures[masking] = {
                "auc": auc,
                "auc_ci95": [low, high],
                "accuracy": float((proba.argmax(1) == y[test]).mean()),
            }
            log(f"SUPERIOR vs INFERIOR, held-out slices masked by {masking}: AUC {auc:.3f} [{low:.3f}, {high:.3f}]")
    if figures:
        metrics, _ = run_evaluation(
            csvs["unet_mask"],
            truth,
            out / "classification" / "report",
            positive="SUPERIOR",
            compare=[csvs["reference_mask"]],
            n_bootstrap=200,
            band_resamples=0,
            seed=cfg.seed,
        )
        pair = metrics.get("comparison", {}).get("pairwise", [{}])[0]
        figures["delong_p_unet_vs_reference"] = (pair.get("delong") or {}).get("p_value")
    _gradcam(result.model, s, predicted, test, spec_pre, out / "gradcam", cfg.gradcam_images)
    return {
        "task": "SUPERIOR vs INFERIOR half of the liver (from the reference mask's craniocaudal extent)",
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "pretraining": pretraining,
        "seconds": seconds,
        "epochs": len(result.history),
        "figures": figures,
        "train_counts": {c: int((y[train] == i).sum()) for i, c in enumerate(CLASSES)},
        "test_counts": {c: int((y[test] == i).sum()) for i, c in enumerate(CLASSES)},
    }


def _pick(test: np.ndarray, n: int) -> np.ndarray:
    return test[np.linspace(0, len(test) - 1, min(n, len(test))).round().astype(int)] if len(test) else test


def _gradcam(model, s: _Slices, predicted: np.ndarray, test: np.ndarray, spec, folder: Path, n: int) -> None:
    """Grad-CAM of the predicted class on U-Net-masked held-out slices, over the masked slice."""
    from radclass.diagnostic.preprocess import center_crop
    from radclass.diagnostic.transforms import eval_inputs
    from radclass.explain.cnn import grad_cam
    from radclass.explain.overlay import save_overlay

    for i in _pick(test, n):
        masked = (s.image[i] * predicted[i])[None, None]
        heat = grad_cam(model, eval_inputs(masked, "display", spec)[0])
        name = s.path[i].replace("/", "_").replace("#", "_")
        save_overlay(folder / f"{name}_gradcam.png", center_crop(masked[0, 0], spec.input_size), heat)


def _overlays(s: _Slices, predicted: np.ndarray, test: np.ndarray, folder: Path, n: int) -> None:
    """The U-Net's liver mask over a few held-out slices (slices with liver first)."""
    from radclass.explain.overlay import save_overlay

    with_liver = test[s.mask[test].reshape(len(test), -1).any(1)]
    for i in _pick(with_liver if len(with_liver) else test, n):
        name = s.path[i].replace("/", "_").replace("#", "_")
        save_overlay(folder / f"{name}_unet_mask.png", s.image[i], predicted[i].astype(np.float32), alpha=0.4)


def _write_card(out: Path, summary: dict[str, Any]) -> None:
    from radclass.diagnostic.model_card import write_liver_card

    write_liver_card(out, summary)
