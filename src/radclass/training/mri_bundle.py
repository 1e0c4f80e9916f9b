"""Build the ``mri-series`` bundle: forest + CNN, leave-one-dataset-out validation, fusion, model card.

Steps (each reported in the model card):

1. the labelled pool (MANIFEST.csv) -> header rows and slices; synthetic header rows (protocol sampler) and
   simulated slices (MR simulator) as optional extra training data;
2. leave-one-dataset-out out-of-fold probabilities for the forest, and for the CNN over dataset folds;
3. fusion weights and the abstention threshold chosen on those out-of-fold predictions;
4. final models trained on everything and exported to ONNX.
"""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from radclass.features.header import feature_names, header_matrix
from radclass.models.ensemble import fuse, majority_vote, threshold_for_error_rate
from radclass.taxonomy import SEQUENCES
from radclass.training.cnn import CnnConfig, export_cnn_onnx, predict_proba, train_cnn
from radclass.training.forest import ForestData, export_forest_onnx, fit_forest, lodo_proba, tune_forest
from radclass.training.pool import LabelledSeries, labelled_pool
from radclass.training.slice_data import ORIENT_HEAD, SliceSet, pool_slices, simulated_slices


@dataclass
class MriBundleConfig:
    name: str = "mri-series"
    version: str = "1"
    seed: int = 0
    datasets: tuple[str, ...] = ()  # restrict the pool to these datasets (empty: all)
    slices_per_series: int = 5
    train_slices_per_series: int = 8
    input_size: int = 128
    synthetic_headers_per_class: int = 300
    simulated_series_per_class: int = 40
    simulated_slices_per_series: int = 4
    tune_forest: bool = True
    cnn_folds: int = 4
    cnn_fold_epochs: int = 6
    cnn: dict[str, Any] = field(default_factory=lambda: {"network": "multitask", "epochs": 10, "batch_size": 32,
                                                         "lr": 1e-3})
    compare_simulation: bool = True  # also train the validation CNNs without simulated slices
    max_error_rate: float = 0.10  # abstention threshold: accepted predictions' error on validation
    alpha_grid: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # CNN share

    @classmethod
    def from_toml(cls, path: Path) -> "MriBundleConfig":
        data = tomllib.loads(Path(path).read_text())
        data = data.get("mri_series", data)
        if "datasets" in data:
            data["datasets"] = tuple(data["datasets"])
        if "alpha_grid" in data:
            data["alpha_grid"] = tuple(data["alpha_grid"])
        return cls(**data)


Log = Callable[[str], None]


def _simulator():
    """The MR simulator's slice function, or None when it is not available."""
    try:
        from radclass.simulate import simulate_slices
    except ImportError:
        return None

    def make(seq: str, plane: str, rng: np.random.Generator, k: int) -> np.ndarray:
        return simulate_slices(seq, plane, rng, n_slices=k)

    return make


def build_mri_bundle(config: MriBundleConfig, out_dir: Path, log: Log = print) -> dict[str, Any]:
    """Train, validate and write the bundle to ``out_dir``; returns the validation report."""
    t0 = time.time()
    rng_seed = config.seed
    out_dir.mkdir(parents=True, exist_ok=True)
    pool = labelled_pool()
    if config.datasets:
        pool = [p for p in pool if p.dataset in config.datasets]
    log(f"pool: {len(pool)} labelled MR series from {len({p.dataset for p in pool})} datasets")
    y = np.array([p.sequence for p in pool])
    groups = np.array([p.dataset for p in pool])
    rows = [p.series.row() for p in pool]
    X = header_matrix(rows)
    informative = np.array([_informative(r) for r in rows])

    # --- forest --------------------------------------------------------------------------------------
    from radclass.training.synthetic_headers import synthetic_rows

    syn_rows, syn_y = synthetic_rows(config.synthetic_headers_per_class, seed=rng_seed)
    fdata = ForestData(X[informative], y[informative], groups[informative], header_matrix(syn_rows), np.array(syn_y))
    params: dict[str, Any] = {}
    results: list[tuple[dict, float]] = []
    if config.tune_forest:
        params, results = tune_forest(fdata)
        log(f"forest tuning (LODO balanced accuracy): best {params}")
    forest_oof = np.full((len(pool), len(SEQUENCES)), np.nan, np.float32)
    forest_oof[informative] = lodo_proba(fdata, params, seed=rng_seed)
    forest_real_only = np.full_like(forest_oof, np.nan)
    forest_real_only[informative] = lodo_proba(fdata, params, use_extra=False, seed=rng_seed)
    log(f"forest LODO done ({time.time() - t0:.0f}s)")

    # --- CNN -----------------------------------------------------------------------------------------
    real = pool_slices(pool, k=config.train_slices_per_series, size=config.input_size)
    make = _simulator()
    sim = SliceSet.empty(config.input_size)
    if make is not None and config.simulated_series_per_class > 0:
        sim = simulated_slices(make, config.simulated_series_per_class, k=config.simulated_slices_per_series,
                               size=config.input_size, seed=rng_seed)
    log(f"slices: {len(real.x)} real, {len(sim.x)} simulated ({time.time() - t0:.0f}s)")
    cnn_cfg = CnnConfig(seed=rng_seed, **config.cnn)
    cnn_oof, cnn_oof_nosim = _cnn_out_of_fold(pool, real, sim, cnn_cfg, config, log)
    log(f"CNN dataset-fold validation done ({time.time() - t0:.0f}s)")

    # --- fusion and abstention on out-of-fold predictions --------------------------------------------
    paths = [p.series.path for p in pool]
    fusion, report = _choose_fusion(y, paths, forest_oof, cnn_oof, config)
    report["forest_tuning"] = [{"params": p, "lodo_balanced_accuracy": b} for p, b in results]
    report["forest_real_only"] = _series_metrics(y, forest_real_only)
    report["forest_with_synthetic"] = _series_metrics(y, forest_oof)
    if cnn_oof_nosim is not None:
        report["cnn_without_simulation"] = _series_metrics(y, _aligned(cnn_oof_nosim, paths))
    report["cnn_with_simulation"] = _series_metrics(y, _aligned(cnn_oof, paths))
    report["use_simulation"] = cnn_oof_nosim is None or (
        report["cnn_with_simulation"].get("balanced_accuracy", 0)
        >= report["cnn_without_simulation"].get("balanced_accuracy", 0))
    log(f"fusion: {fusion}")

    # --- final models ---------------------------------------------------------------------------------
    final_forest = fit_forest(np.concatenate([fdata.X, fdata.X_extra]), np.concatenate([fdata.y, fdata.y_extra]),
                              params, rng_seed)
    export_forest_onnx(final_forest, X.shape[1], out_dir / "forest.onnx")
    import joblib

    joblib.dump(final_forest, out_dir / "forest.joblib", compress=3)  # for SHAP (radclass explain)
    train_set = SliceSet.concat([real, sim]) if report.get("use_simulation", True) else real
    model, history = train_cnn(train_set, None, cnn_cfg,
                               progress=lambda e, n, r: log(f"final CNN epoch {e}/{n}: loss {r['loss']:.3f}"))
    export_cnn_onnx(model, config.input_size, out_dir / "cnn.onnx")
    import torch

    torch.save(model.state_dict(), out_dir / "cnn.pt")
    meta = {
        "name": config.name, "version": config.version, "classes": list(SEQUENCES),
        "forest_classes": list(final_forest.classes_), "orient_classes": list(ORIENT_HEAD),
        "input_size": config.input_size, "slices_per_series": config.slices_per_series,
        "network": cnn_cfg.network, "cnn": "cnn.onnx", "forest": "forest.onnx", "torch_weights": "cnn.pt",
        "sklearn_forest": "forest.joblib",
        "feature_names": feature_names(), "forest_params": params, "fusion": fusion,
        "config": {k: v for k, v in asdict(config).items()},
        "trained_seconds": round(time.time() - t0, 1),
    }
    (out_dir / "bundle.json").write_text(json.dumps(meta, indent=1, default=str))
    (out_dir / "validation.json").write_text(json.dumps(report, indent=1, default=str))
    from radclass.training.model_card import write_model_card

    write_model_card(out_dir, meta, report, pool)
    log(f"bundle written to {out_dir} in {time.time() - t0:.0f}s")
    return report


def _informative(row: dict[str, Any]) -> bool:
    from radclass.pipeline.annotate import header_is_informative

    return header_is_informative(row)


def _cnn_out_of_fold(pool: list[LabelledSeries], real: SliceSet, sim: SliceSet, cfg: CnnConfig,
                     config: MriBundleConfig, log: Log) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
    """Per-series slice probabilities from CNNs trained without the series' dataset fold (with and without
    simulated slices in training)."""
    datasets = sorted({p.dataset for p in pool if p.pixels_usable})
    rng = np.random.default_rng(config.seed)
    rng.shuffle(datasets)
    folds = [datasets[i::config.cnn_folds] for i in range(config.cnn_folds)]
    fold_cfg = replace(cfg, epochs=config.cnn_fold_epochs)
    with_sim: dict[str, np.ndarray] = {}
    without: dict[str, np.ndarray] | None = {} if len(sim.x) and config.compare_simulation else None
    for i, held in enumerate(folds):
        test = np.isin(real.group, held)
        train_real = real.subset(~test)
        variants = [("sim", SliceSet.concat([train_real, sim]), with_sim)]
        if without is not None and config.compare_simulation:
            variants.append(("nosim", train_real, without))
        for name, train_set, store in variants:
            model, _ = train_cnn(train_set, None, fold_cfg)
            proba, _ = predict_proba(model, real.x[test])
            for path in np.unique(real.series[test]):
                store[path] = proba[real.series[test] == path]
            log(f"CNN fold {i + 1}/{len(folds)} ({name}) held out {held}")
    return with_sim, without


def _aligned(per_series: dict[str, np.ndarray], paths: list[str]) -> np.ndarray:
    """Mean slice probabilities per pool series, NaN where the CNN saw no slices."""
    out = np.full((len(paths), len(SEQUENCES)), np.nan, np.float32)
    for i, p in enumerate(paths):
        if p in per_series:
            out[i] = per_series[p].mean(0)
    return out


def _series_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """Accuracy / balanced accuracy / per-class recall over the series that have a prediction (no NaN)."""
    ok = ~np.isnan(proba).any(1)
    if not ok.any():
        return {"n": 0}
    pred = np.asarray(SEQUENCES)[np.nan_to_num(proba[ok]).argmax(1)]
    yy = y[ok]
    per_class = {c: {"n": int((yy == c).sum()), "recall": float((pred[yy == c] == c).mean())} for c in np.unique(yy)}
    return {"n": int(ok.sum()), "accuracy": float((pred == yy).mean()),
            "balanced_accuracy": float(np.mean([v["recall"] for v in per_class.values()])), "per_class": per_class}


def _choose_fusion(y: np.ndarray, paths: list[str], forest_oof: np.ndarray, cnn_oof: dict[str, np.ndarray],
                   config: MriBundleConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """Grid-search the CNN share of the log-linear pool for balanced accuracy, then one abstention threshold
    per kind of evidence (series with an informative header / pixels only) for the stated error rate."""
    slice_p = [cnn_oof.get(p) for p in paths]
    forest_p = [None if np.isnan(f).any() else f for f in forest_oof]
    scores = []
    for alpha in config.alpha_grid:
        pred, _ = _fused(slice_p, forest_p, alpha, 1 - alpha)
        ok = pred != ""
        scores.append((_bal(y[ok], pred[ok]), alpha))
    alpha = max(scores)[1]
    pred, conf = _fused(slice_p, forest_p, alpha, 1 - alpha)
    ok = pred != ""
    has_header = np.array([f is not None for f in forest_p])
    thresholds = {}
    for name, group in (("threshold_header", ok & has_header), ("threshold_pixels", ok & ~has_header)):
        thresholds[name] = (threshold_for_error_rate(conf[group], pred[group] == y[group], config.max_error_rate)
                            if group.any() else 1.0)
    threshold = np.where(has_header, thresholds["threshold_header"], thresholds["threshold_pixels"])
    vote = np.array([SEQUENCES[int(np.argmax(majority_vote(s, f)))] if s is not None else
                     (SEQUENCES[int(np.argmax(f))] if f is not None else "") for s, f in zip(slice_p, forest_p)])
    accepted = ok & (conf >= threshold)
    report = {
        "n_series": int(len(y)),
        "alpha_scores": [{"cnn_share": a, "balanced_accuracy": b} for b, a in scores],
        "fusion": {"accuracy": float((pred[ok] == y[ok]).mean()), "balanced_accuracy": _bal(y[ok], pred[ok])},
        "majority_vote": {"accuracy": float((vote[ok] == y[ok]).mean()), "balanced_accuracy": _bal(y[ok], vote[ok])},
        "abstention": {**thresholds, "coverage": float(accepted.sum() / max(ok.sum(), 1)),
                       "accepted_accuracy": float((pred[accepted] == y[accepted]).mean()) if accepted.any() else None,
                       "coverage_header": float(accepted[has_header].mean()) if has_header.any() else None,
                       "coverage_pixels": float(accepted[~has_header & ok].mean()) if (~has_header & ok).any() else None},
        "per_class": {c: {"n": int((y[ok] == c).sum()), "recall": float((pred[ok][y[ok] == c] == c).mean()),
                          "precision": float((y[ok][pred[ok] == c] == c).mean()) if (pred[ok] == c).any() else None}
                      for c in np.unique(y[ok])},
        "predictions": [{"path": p, "truth": t, "pred": q, "confidence": float(c), "header": bool(h)}
                        for p, t, q, c, h in zip(paths, y, pred, conf, has_header)],
    }
    return {"w_cnn": alpha, "w_forest": 1 - alpha, "temperature": 1.0, **thresholds,
            "max_error_rate": config.max_error_rate}, report


def _fused(slice_p: list, forest_p: list, w_cnn: float, w_forest: float) -> tuple[np.ndarray, np.ndarray]:
    """Fused labels and confidences of the validation series ('' where a series has no evidence)."""
    pred, conf = [], []
    for s, f in zip(slice_p, forest_p):
        if s is None and f is None:
            pred.append("")
            conf.append(0.0)
            continue
        p = fuse(s, f, w_cnn=w_cnn, w_forest=w_forest)
        pred.append(SEQUENCES[int(np.argmax(p))])
        conf.append(float(p.max()))
    return np.array(pred), np.array(conf)


def _bal(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean([(pred[y == c] == c).mean() for c in np.unique(y)])) if len(y) else 0.0
