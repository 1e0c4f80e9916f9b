"""Recipe ``ct-hemorrhage``: Desai et al. (2019)'s Table 1 on the pool's 160 real head-CT slices.

Configurations: architecture (AlexNet, GoogLeNet) x initialisation (scratch, self-pretrained: rotation
prediction on the pool's other real images, see :mod:`radclass.diagnostic.pretrain`; or a local weights file
such as ImageNet's, given as ``weights``) x augmentation (none, the published set). Each is 5-fold stratified
cross-validated (the collection has no patient IDs); the out-of-fold probabilities of every configuration
are written as a prediction CSV and scored with ``radclass evaluate`` (ROC AUC with DeLong 95 % CI, pairwise
DeLong tests between configurations). The best configuration whose ONNX fits ``max_bundle_mb`` is retrained
on all slices (for the median of its folds' early-stopping epochs), exported to ONNX and written as the
bundle ``ct-hemorrhage`` with a model card; Grad-CAM overlays of a few slices come with it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from radclass.diagnostic.datasets import HEMORRHAGE, NORMAL, ct_head_hemorrhage, load_arrays
from radclass.diagnostic.finetune import FitConfig
from radclass.diagnostic.preprocess import Preprocess
from radclass.diagnostic.recipes.common import (
    Logger,
    auc_with_ci,
    from_mapping,
    read_section,
    write_predictions,
    write_truth,
)

__all__ = ["CtHemorrhageConfig", "run_ct_hemorrhage"]

CLASSES = [NORMAL, HEMORRHAGE]


@dataclass
class PretrainConfig:
    """Rotation pretraining on the pool's NIfTI volumes (``per_volume`` slices each); peak learning rate
    ``lr_factor`` x the architecture's fine-tuning rate."""

    epochs: int = 8
    per_volume: int = 6
    lr_factor: float = 2.0
    batch_size: int = 32
    limit: int = 0  # 0: all slices


@dataclass
class CtHemorrhageConfig:
    """Settings of the ``ct-hemorrhage`` recipe (``[ct_hemorrhage]`` in ``configs/ct-hemorrhage.toml``)."""

    name: str = "ct-hemorrhage"
    version: str = "1"
    seed: int = 0
    folds: int = 5
    input_size: int = 96
    load_size: int = 110
    architectures: tuple[str, ...] = ("alexnet", "googlenet")
    initialisations: tuple[str, ...] = ("scratch", "pretrained")
    augmentations: tuple[bool, ...] = (False, True)
    weights: str = ""  # local weights file for "pretrained" (e.g. ImageNet); "" = self-supervised pretraining
    val_fraction: float = 0.15
    flip: bool = True
    max_bundle_mb: float = 60.0
    gradcam_images: int = 4
    max_images: int = 0  # 0: all; the quick mode takes a balanced subset
    lr: dict = field(default_factory=lambda: {"alexnet": 1e-4, "googlenet": 1e-3})
    fit: FitConfig = field(default_factory=lambda: FitConfig(epochs=8, frozen_epochs=2, batch_size=16, patience=2))
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)

    @classmethod
    def load(cls, path: Path | str | None = None, *, quick: bool = False) -> CtHemorrhageConfig:
        cfg = from_mapping(cls, read_section(path, "ct_hemorrhage"))
        return cfg.quick() if quick else cfg

    def quick(self) -> CtHemorrhageConfig:
        """A seconds-long end-to-end run: 16 slices, 2 folds, 64-pixel inputs, one epoch."""
        return replace(
            self,
            folds=2,
            input_size=64,
            load_size=72,
            max_images=16,
            gradcam_images=1,
            fit=replace(self.fit, epochs=1, frozen_epochs=1, batch_size=8, patience=0),
            pretrain=replace(self.pretrain, epochs=1, per_volume=1, limit=8),
        )

    def preprocess(self) -> Preprocess:
        return Preprocess(input_size=self.input_size, load_size=self.load_size, channels="grey")


def _config_name(arch: str, init: str, augment: bool) -> str:
    return f"{arch}-{init}-{'aug' if augment else 'noaug'}"


def _balanced_subset(labels: list[str], n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.asarray(labels)
    per = [rng.permutation(np.flatnonzero(y == c))[: n // 2] for c in CLASSES]
    return np.sort(np.concatenate(per))


def _pretrained_weights(cfg: CtHemorrhageConfig, root: Path, out: Path, log: Logger) -> tuple[dict[str, Any], str]:
    """Per architecture: the local weights file, or a rotation-pretrained state dict (saved under ``out``);
    and a description of the pretraining."""
    if cfg.weights:
        return {arch: Path(cfg.weights) for arch in cfg.architectures}, f"weights file {cfg.weights}"
    import torch

    from radclass.diagnostic.pretrain import pool_pretraining_images, rotation_pretrain

    images = pool_pretraining_images(
        root, cfg.load_size, per_volume=cfg.pretrain.per_volume, limit=cfg.pretrain.limit or None
    )
    log(f"rotation pretraining on {len(images)} pool slices (MRI + abdominal CT/MR NIfTI, no head CT)")
    weights: dict[str, Any] = {}
    for arch in cfg.architectures:
        lr = cfg.pretrain.lr_factor * float(cfg.lr.get(arch, cfg.fit.max_lr))
        fit = replace(cfg.fit, epochs=cfg.pretrain.epochs, max_lr=lr, batch_size=cfg.pretrain.batch_size, seed=cfg.seed)
        state = rotation_pretrain(images, arch, cfg.preprocess(), fit, log=log.prefixed(f"pretrain {arch}: "))
        (out / "pretrained").mkdir(parents=True, exist_ok=True)
        torch.save(state, out / "pretrained" / f"{arch}-rotation.pt")
        weights[arch] = state
    return weights, (
        f"self-supervised rotation prediction (0/90/180/270 degrees), {cfg.pretrain.epochs} epochs on "
        f"{len(images)} slices of the pool's brain-MRI and abdominal CT/MR NIfTI volumes (no head CT)"
    )


def _spec(cfg: CtHemorrhageConfig, arch: str, augment: bool, weights: Any):
    from radclass.diagnostic.training import TrainSpec

    fit = replace(cfg.fit, max_lr=float(cfg.lr.get(arch, cfg.fit.max_lr)), seed=cfg.seed)
    return TrainSpec(
        arch=arch,
        preprocess=cfg.preprocess(),
        fit=fit,
        augment=augment,
        flip=cfg.flip and augment,
        weights=weights,
        val_fraction=cfg.val_fraction,
    )


def _n_parameters(arch: str, input_size: int) -> int:
    from radclass.diagnostic.architectures import build_classifier

    return sum(p.numel() for p in build_classifier(arch, 2, input_size=input_size).parameters())


def run_ct_hemorrhage(
    out: Path | str,
    cfg: CtHemorrhageConfig | None = None,
    *,
    root: Path | str | None = None,
    bundle_to: Path | str | None = None,
    log: Logger | None = None,
) -> dict[str, Any]:
    """Run the recipe into ``out``; returns the summary (also ``out/summary.json``)."""
    from radclass.config import data_root
    from radclass.diagnostic.crossval import cross_validate
    from radclass.evaluate.report import run_evaluation

    cfg = cfg or CtHemorrhageConfig()
    log = log or Logger()
    out, root = Path(out), Path(root) if root else data_root()
    out.mkdir(parents=True, exist_ok=True)
    images = ct_head_hemorrhage(root)
    if cfg.max_images:
        images = images.subset(_balanced_subset(images.labels, cfg.max_images, cfg.seed))
    data = load_arrays(images, cfg.load_size, CLASSES)
    log(f"{len(images)} slices ({sum(label == HEMORRHAGE for label in images.labels)} {HEMORRHAGE}), kind {data.kind}")
    paths = [str(p) for p in images.paths]
    truth = write_truth(out / "truth.csv", paths, images.labels)
    weights, pretraining = (
        _pretrained_weights(cfg, root, out, log) if "pretrained" in cfg.initialisations else ({}, "none")
    )
    results: dict[str, dict[str, Any]] = {}
    for arch in cfg.architectures:
        for init in cfg.initialisations:
            for augment in cfg.augmentations:
                name = _config_name(arch, init, augment)
                spec = _spec(cfg, arch, augment, weights.get(arch) if init == "pretrained" else None)
                start = log.elapsed
                cv = cross_validate(data, spec, k=cfg.folds, seed=cfg.seed, log=log.prefixed(f"{name}: "))
                csv = write_predictions(
                    out / "predictions" / f"{name}.csv",
                    paths,
                    CLASSES,
                    cv.probabilities,
                    HEMORRHAGE,
                    extra={"fold": cv.fold + 1},
                )
                auc, low, high = auc_with_ci(data.y, cv.probabilities[:, 1])
                fold_aucs = [f["auc"] for f in cv.folds if f.get("auc") is not None]
                results[name] = {
                    "architecture": arch,
                    "initialisation": init,
                    "augmented": augment,
                    "auc": auc,
                    "auc_ci95": [low, high],
                    "fold_aucs": fold_aucs,
                    "best_epochs": cv.best_epochs,
                    "seconds": round(log.elapsed - start, 1),
                    "predictions": str(csv),
                }
                log(f"{name}: AUC {auc:.3f} [{low:.3f}, {high:.3f}] ({results[name]['seconds']} s)")
    best = max(results, key=lambda n: results[n]["auc"])
    others = [Path(results[n]["predictions"]) for n in results if n != best]
    metrics, _ = run_evaluation(
        results[best]["predictions"],
        truth,
        out / "report",
        positive=HEMORRHAGE,
        compare=others,
        n_bootstrap=200,
        band_resamples=0,
        seed=cfg.seed,
    )
    _add_delong(results, metrics, best)
    bundle_name = _bundle_choice(cfg, results)
    summary = {
        "recipe": "ct-hemorrhage",
        "n_images": len(images),
        "folds": cfg.folds,
        "best": best,
        "bundled": bundle_name,
        "pretraining": pretraining,
        "configurations": results,
        "config": asdict(cfg),
        "evaluate_command": (
            f"radclass evaluate {results[best]['predictions']} --truth {truth} "
            f"--report {out / 'report'} --positive {HEMORRHAGE} " + " ".join(f"--compare {o}" for o in others)
        ),
    }
    if bundle_name:
        summary["bundle"] = _build_bundle(
            cfg, data, paths, results, bundle_name, weights, pretraining, out, bundle_to, log
        )
    summary["seconds"] = round(log.elapsed, 1)
    _write_summary(out, summary)
    return summary


def _add_delong(results: dict[str, dict[str, Any]], metrics: dict[str, Any], best: str) -> None:
    """DeLong p-value of each configuration against the best, from ``radclass evaluate``'s comparison."""
    for pair in metrics.get("comparison", {}).get("pairwise", []):
        names = [pair.get("a"), pair.get("b")]
        delong = pair.get("delong")
        if best in names and delong:
            other = names[1] if names[0] == best else names[0]
            if other in results:
                results[other]["delong_p_vs_best"] = delong.get("p_value")


def _bundle_choice(cfg: CtHemorrhageConfig, results: dict[str, dict[str, Any]]) -> str | None:
    """Best AUC among configurations whose float32 weights fit ``max_bundle_mb``."""
    fitting = [
        n for n in results if _n_parameters(results[n]["architecture"], cfg.input_size) * 4 / 1e6 <= cfg.max_bundle_mb
    ]
    return max(fitting, key=lambda n: results[n]["auc"]) if fitting else None


def _build_bundle(
    cfg: CtHemorrhageConfig,
    data,
    paths: list[str],
    results: dict[str, dict[str, Any]],
    name: str,
    weights: dict[str, Any],
    pretraining: str,
    out: Path,
    bundle_to: Path | str | None,
    log: Logger,
) -> dict[str, Any]:
    """Retrain ``name`` on every slice, export ONNX, check it, write bundle.json, model card and Grad-CAMs."""
    from radclass.diagnostic.export import export_onnx, onnx_matches_torch
    from radclass.diagnostic.model_card import write_ct_hemorrhage_card
    from radclass.diagnostic.training import train_classifier
    from radclass.diagnostic.transforms import eval_inputs
    from radclass.models.bundle import write_bundle_json

    r = results[name]
    epochs = max(1, int(np.median(r["best_epochs"]))) if r["best_epochs"] else cfg.fit.epochs
    spec = _spec(
        cfg,
        r["architecture"],
        r["augmented"],
        weights.get(r["architecture"]) if r["initialisation"] == "pretrained" else None,
    )
    frozen = spec.fit.frozen_epochs if spec.pretrained else 0
    spec = replace(spec, val_fraction=0.0, fit=replace(spec.fit, epochs=max(1, epochs - frozen), patience=0))
    start = log.elapsed
    fitted = train_classifier(data, spec, log=lambda m: log(f"final {name}: {m}"))
    folder = out / "bundle"
    onnx = export_onnx(fitted.model, cfg.input_size, folder / "model.onnx")
    diff = onnx_matches_torch(fitted.model, onnx, eval_inputs(data.x[:4], data.kind, spec.preprocess))
    log(f"final {name}: trained {len(fitted.history)} epochs on {len(paths)} slices, ONNX max |diff| {diff:.1e}")
    meta = {
        "name": cfg.name,
        "version": cfg.version,
        "task": "head CT slice: intracranial hemorrhage vs normal",
        "classes": CLASSES,
        "positive": HEMORRHAGE,
        "onnx": "model.onnx",
        "architecture": r["architecture"],
        "preprocess": spec.preprocess.to_dict(),
        "input_kind_trained": data.kind,
        "trained": {
            "recipe": "ct-hemorrhage",
            "configuration": name,
            "n_images": len(paths),
            "epochs": len(fitted.history),
            "seconds": round(log.elapsed - start, 1),
            "cv_auc": r["auc"],
            "cv_auc_ci95": r["auc_ci95"],
            "folds": cfg.folds,
            "pretraining": pretraining if r["initialisation"] == "pretrained" else "none (scratch)",
        },
    }
    write_bundle_json(folder, meta)
    write_ct_hemorrhage_card(folder, meta, results, cfg, pretraining)
    _gradcam(fitted.model, data, paths, spec.preprocess, out / "gradcam", cfg.gradcam_images)
    if bundle_to:
        target = Path(bundle_to)
        target.mkdir(parents=True, exist_ok=True)
        for f in ("model.onnx", "bundle.json", "model_card.md"):
            shutil.copy2(folder / f, target / f)
        log(f"bundle copied to {target}")
    return {"folder": str(folder), "configuration": name, "onnx_max_abs_diff": diff, "epochs": len(fitted.history)}


def _gradcam(model, data, paths: list[str], spec: Preprocess, folder: Path, n: int) -> None:
    """Grad-CAM overlays (``radclass.explain``) of the first ``n`` slices of each class."""
    from radclass.diagnostic.preprocess import center_crop
    from radclass.diagnostic.transforms import eval_inputs
    from radclass.explain.cnn import grad_cam
    from radclass.explain.overlay import save_overlay

    for c in range(len(CLASSES)):
        for i in np.flatnonzero(data.y == c)[:n]:
            x = eval_inputs(data.x[i : i + 1], data.kind, spec)[0]
            heat = grad_cam(model, x, target=1)
            save_overlay(
                folder / f"{Path(paths[i]).stem}_{CLASSES[c]}_gradcam.png",
                center_crop(data.x[i], spec.input_size)[0],
                heat,
            )


def _p(p: float | None) -> str:
    return "n/a" if p is None else ("<0.001" if p < 0.001 else f"{p:.3f}")


def _write_summary(out: Path, summary: dict[str, Any]) -> None:
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    lines = [
        "| configuration | AUC | 95% CI (DeLong) | fold AUCs | DeLong p vs best | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in summary["configurations"].items():
        p = r.get("delong_p_vs_best")
        lines.append(
            f"| {name} | {r['auc']:.3f} | {r['auc_ci95'][0]:.3f}-{r['auc_ci95'][1]:.3f} | "
            + ", ".join(f"{a:.2f}" for a in r["fold_aucs"])
            + f" | {'best' if name == summary['best'] else _p(p)} | {r['seconds']} |"
        )
    (out / "summary.md").write_text("\n".join(lines) + "\n")
