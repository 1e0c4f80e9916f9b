"""Build an ``mri-series`` bundle: forest + CNN, group-wise validation, fusion, held-out test split, model card.

One path for every labelled set, the shared pool (labels from its MANIFEST) and a user's LABELS.csv alike.
Steps (each reported in the model card):

1. the labelled series -> whole groups (datasets, subjects or sites) drawn by seed into a held-out test split
   that no choice ever sees; the rest is the development set;
2. development series -> header rows and slices; synthetic header rows (protocol sampler) and simulated
   slices (MR simulator) as extra training data; when fine-tuning, the base bundle's forest rows instead;
3. leave-one-group-out out-of-fold probabilities for the forest (and its hyper-parameters), and for the CNN
   over group folds;
4. fusion weights and the abstention thresholds chosen on those out-of-fold predictions;
5. final models trained on the development set and exported to ONNX; then measured once on the test split
   (and, when fine-tuning, the base bundle on the same series);
6. the gadolinium test (:mod:`radclass.training.enhancement`) and the timing model for headers with TR/TE alone
   (:mod:`radclass.training.timing_model`), each validated nested on the development groups.
"""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from radclass.features.header import feature_names, header_matrix
from radclass.models.bundle import ModelBundle, write_bundle_json
from radclass.models.decision import abstention_threshold, fuse_evidence, header_forest_votes
from radclass.models.ensemble import PIXEL_MIN_ACCEPTED, PIXEL_MIN_GROUPS, majority_vote, threshold_for_error_rate
from radclass.taxonomy import SEQUENCES
from radclass.training.augment import Augment
from radclass.training.cnn import CnnConfig, export_cnn_onnx, predict_proba, train_cnn
from radclass.training.forest import ForestData, export_forest_onnx, fit_forest, full_proba, lodo_proba, tune_forest
from radclass.training.pool import Excluded, LabelledSeries, LabelledSet, manifest_set
from radclass.training.slice_data import ORIENT_HEAD, SliceSet, pool_slices, simulated_slices
from radclass.training.split import group_folds, held_out_groups


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
    cnn: dict[str, Any] = field(
        default_factory=lambda: {"network": "multitask", "epochs": 10, "batch_size": 32, "lr": 1e-3}
    )
    compare_simulation: bool = True  # also train the validation CNNs without simulated slices
    max_error_rate: float = 0.10  # abstention threshold: accepted predictions' error on validation
    alpha_grid: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # CNN share
    test_fraction: float = 0.2  # share of series in whole held-out groups that no choice sees (0: none)
    max_minutes: float = 0.0  # time box of the CNN training (0: none)
    augment: dict[str, Any] = field(default_factory=dict)  # training.augment.Augment fields
    classes: tuple[str, ...] = ()  # train on these classes only (empty: every class of the taxonomy)
    central_fraction: float = 1.0  # training slices from the central part of each volume (Ranjbar: 0.5)
    final_val_fraction: float = 0.15  # development groups the final CNN validates on (plateau, best epoch); 0: none
    # After the test split is measured, refit the shipped forest on every group (test groups included) with the
    # same hyper-parameters: a header convention seen only in a test group (one vendor's DWI) is not lost. The
    # card's test figures then describe the development forest, and it says so.
    refit_forest_on_all: bool = False
    # Write the forest's real training rows (header features) into the bundle, for fine-tunes from it. The shipped
    # bundle leaves them out (they derive from the pool's headers); a fine-tune then regenerates synthetic rows.
    ship_forest_rows: bool = True
    card_notes: tuple[str, ...] = ()  # paragraphs the recipe adds to its model card ("Notes": history, caveats)

    def __post_init__(self) -> None:
        if not 0 <= self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in [0, 1); got {self.test_fraction}.")
        if self.max_minutes < 0:
            raise ValueError(f"max_minutes must not be negative; got {self.max_minutes}.")
        unknown = sorted(set(self.classes) - set(SEQUENCES))
        if unknown:
            raise ValueError(f"classes {unknown} are not classes of the taxonomy ({', '.join(SEQUENCES)}).")
        if self.cnn_folds < 2:
            raise ValueError(f"cnn_folds must be at least 2; got {self.cnn_folds}.")
        if not 0 <= self.final_val_fraction < 1:
            raise ValueError(f"final_val_fraction must be in [0, 1); got {self.final_val_fraction}.")
        # seed, augmentation, deadline and initial weights of the CNN come from the recipe's own settings
        own = {"seed", "augment", "deadline", "init_weights"}
        for table, cls, taken in (("cnn", CnnConfig, own), ("augment", Augment, set())):
            unknown = sorted(set(getattr(self, table)) - ({f.name for f in fields(cls)} - taken))
            if unknown:
                raise ValueError(
                    f"unknown setting(s) {unknown} in [mri_series.{table}]; the settings are the fields"
                    f" of {cls.__module__}.{cls.__name__}."
                )
        Augment(**self.augment)  # validates the values

    @classmethod
    def from_toml(cls, path: Path) -> MriBundleConfig:
        data = tomllib.loads(Path(path).read_text())
        data = data.get("mri_series", data)
        if "datasets" in data:
            data["datasets"] = tuple(data["datasets"])
        for key in ("alpha_grid", "classes", "card_notes"):
            if key in data:
                data[key] = tuple(data[key])
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"{path}: unknown setting(s) {unknown} in [mri_series].")
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


Progress = Callable[[str, int, int, dict], None]  # (stage, epoch, epochs, record)


def build_mri_bundle(
    config: MriBundleConfig,
    out_dir: Path,
    log: Log = print,
    *,
    labelled: LabelledSet | None = None,
    init: str | Path | None = None,
    on_epoch: Progress | None = None,
) -> dict[str, Any]:
    """Train, validate and write the bundle to ``out_dir``; returns the validation report.

    Parameters
    ----------
    config
        The recipe (``configs/*.toml``); ``max_minutes`` > 0 time-boxes the CNN training.
    out_dir
        Bundle folder to write.
    log
        Receives one line per step.
    labelled
        The labelled series (default: the shared pool, labels from its MANIFEST, restricted to
        ``config.datasets``); a user's LABELS.csv gives one through
        :func:`radclass.training.labels.labelled_from_tables`.
    init
        A bundle (name or folder) to fine-tune: its CNN weights start the training, its preprocessing (network,
        input size, slices per series) is kept, its forest training rows join the local rows, and its figures on
        the same held-out test groups go into the model card.
    on_epoch
        Called after every CNN epoch with ``(stage, epoch, epochs, record)`` (a progress bar).
    """
    t0 = time.monotonic()
    deadline = t0 + 60 * config.max_minutes if config.max_minutes > 0 else None
    rng_seed = config.seed
    base = ModelBundle.load(init) if init else None
    if base is not None:
        config = _keep_base_preprocessing(config, base)
    labelled = labelled if labelled is not None else manifest_set(datasets=config.datasets)
    if config.classes:
        outside = [p for p in labelled.items if p.sequence not in config.classes]
        labelled = replace(
            labelled,
            items=[p for p in labelled.items if p.sequence in config.classes],
            excluded=labelled.excluded
            + [
                Excluded(labelled.source, p.id, f"class {p.sequence} is outside this recipe's classes") for p in outside
            ],
        )
    for e in labelled.excluded:
        log(f"left out {e.source} ({e.name}): {e.reason}")
    items = labelled.items
    if len({p.sequence for p in items}) < 2:
        raise ValueError(
            f"Training needs series of at least two classes; {labelled.source} gives "
            f"{len(items)} usable series of {sorted({p.sequence for p in items})}."
        )
    all_groups = np.array([p.dataset for p in items])
    held = held_out_groups(all_groups, config.test_fraction, rng_seed)
    is_test = np.isin(all_groups, held)
    pool = [p for p, t in zip(items, is_test) if not t]
    test = [p for p, t in zip(items, is_test) if t]
    n_groups = len({p.dataset for p in pool})
    if n_groups < 2:
        raise ValueError(
            f"Cross-validation needs at least two groups (datasets, subjects or sites); the series of "
            f"{labelled.source} fall into {n_groups} outside the test split. Give a 'group' column."
        )
    log(
        f"labelled: {len(items)} series from {labelled.source}; {len(labelled.excluded)} rows left out; "
        f"test split: {len(test)} series of {len(held)} held-out groups {held}; "
        f"development: {len(pool)} series of {n_groups} groups"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    y = np.array([p.sequence for p in pool])
    groups = np.array([p.dataset for p in pool])
    rows = [p.series.row() for p in pool]
    X = header_matrix(rows)
    informative = np.array([header_forest_votes(r) for r in rows], dtype=bool)

    # --- forest --------------------------------------------------------------------------------------
    X_extra, y_extra, extra_source = _extra_forest_rows(config, base)
    fdata = ForestData(X[informative], y[informative], groups[informative], X_extra, y_extra)
    params: dict[str, Any] = {}
    results: list[tuple[dict, float]] = []
    if config.tune_forest:
        params, results = tune_forest(fdata, seed=rng_seed)
        log(f"forest tuning (leave-one-group-out balanced accuracy): best {params}")
    forest_oof = np.full((len(pool), len(SEQUENCES)), np.nan, np.float32)
    forest_real_only = np.full_like(forest_oof, np.nan)
    if informative.any():
        forest_oof[informative] = lodo_proba(fdata, params, seed=rng_seed)
        forest_real_only[informative] = lodo_proba(fdata, params, use_extra=False, seed=rng_seed)
    log(f"forest cross-validation done ({time.monotonic() - t0:.0f}s)")

    # --- CNN -----------------------------------------------------------------------------------------
    real = pool_slices(pool, k=config.train_slices_per_series, size=config.input_size, central=config.central_fraction)
    make = _simulator()
    sim = SliceSet.empty(config.input_size)
    if make is not None and config.simulated_series_per_class > 0:
        sim = simulated_slices(
            make,
            config.simulated_series_per_class,
            k=config.simulated_slices_per_series,
            size=config.input_size,
            seed=rng_seed,
            classes=config.classes or SEQUENCES,
        )
    log(f"slices: {len(real.x)} real, {len(sim.x)} simulated ({time.monotonic() - t0:.0f}s)")
    cnn_cfg = CnnConfig(
        seed=rng_seed,
        augment=Augment(**config.augment),
        **config.cnn,
        init_weights=str(base.path("torch_weights")) if base is not None else None,
    )
    cv_deadline = None if deadline is None else time.monotonic() + 0.5 * max(deadline - time.monotonic(), 0)
    cnn_oof, cnn_oof_nosim = _cnn_out_of_fold(pool, real, sim, cnn_cfg, config, log, cv_deadline, on_epoch)
    log(f"CNN cross-validation done ({time.monotonic() - t0:.0f}s)")

    # --- fusion and abstention on out-of-fold predictions --------------------------------------------
    paths = [p.id for p in pool]
    fusion, report = _choose_fusion(y, paths, forest_oof, cnn_oof, config, groups)
    report["forest_tuning"] = [{"params": p, "lodo_balanced_accuracy": b} for p, b in results]
    report["forest_real_only"] = _series_metrics(y, forest_real_only)
    report["forest_with_synthetic"] = _series_metrics(y, forest_oof)
    report["forest_extra_rows"] = extra_source
    if cnn_oof_nosim is not None:
        report["cnn_without_simulation"] = _series_metrics(y, _aligned(cnn_oof_nosim, paths))
    report["cnn_with_simulation"] = _series_metrics(y, _aligned(cnn_oof, paths))
    report["use_simulation"] = cnn_oof_nosim is None or (
        report["cnn_with_simulation"].get("balanced_accuracy", 0)
        >= report["cnn_without_simulation"].get("balanced_accuracy", 0)
    )
    report["model_comparison"] = _compare_models_per_group(y, groups, forest_oof, _aligned(cnn_oof, paths), report)
    report["labels"] = {
        "source": labelled.source,
        "excluded": [{"source": e.source, "name": e.name, "reason": e.reason} for e in labelled.excluded],
    }
    log(f"fusion: {fusion}")

    # --- final models (development groups only: the test groups stay unseen) ---------------------------
    final_forest = fit_forest(
        np.concatenate([fdata.X, fdata.X_extra]), np.concatenate([fdata.y, fdata.y_extra]), params, rng_seed
    )
    if not (test and config.refit_forest_on_all):  # else the refit after the test split is the one written
        _export_forest(
            final_forest,
            np.concatenate([fdata.X, fdata.X_extra]),
            np.concatenate([fdata.y, fdata.y_extra]),
            out_dir,
            config.ship_forest_rows,
        )
    final_real, final_val, val_groups = real, None, []
    if config.final_val_fraction > 0:
        # an inner validation fold of whole development groups drives the plateau schedule, early stopping and
        # the choice of the exported epoch (the test groups stay unseen)
        val_groups = held_out_groups(real.group, config.final_val_fraction, rng_seed + 1, min_dev_groups=1)
        if val_groups:
            in_val = np.isin(real.group, val_groups)
            final_real, final_val = real.subset(~in_val), real.subset(in_val)
    train_set = SliceSet.concat([final_real, sim]) if report.get("use_simulation", True) else final_real
    final_cfg = replace(cnn_cfg, deadline=None if deadline is None else deadline - _EXPORT_RESERVE_S)
    model, history = train_cnn(train_set, final_val, final_cfg, progress=_epoch_logger("final CNN", log, on_epoch))
    report["final_cnn_history"] = history
    report["final_cnn_validation_groups"] = val_groups
    export_cnn_onnx(model, config.input_size, out_dir / "cnn.onnx")
    import torch

    torch.save(model.state_dict(), out_dir / "cnn.pt")

    # --- the held-out test split, measured once --------------------------------------------------------
    if test:
        evidence = _test_evidence(test, config.slices_per_series, config.input_size)
        # The base forest's inputs, by name, from today's feature columns (an older list named so_PFF twice).
        base_columns = [feature_names().index(n) for n in (base.feature_names or feature_names())] if base else []
        report["test"] = _test_report(
            test, evidence, fusion, lambda xs: full_proba(final_forest, xs), lambda b: predict_proba(model, b)[0]
        )
        log(f"test split: accuracy {report['test']['accuracy']:.3f} on {report['test']['n']} series")
        if base is not None:
            report["base_test"] = _test_report(
                test,
                evidence,
                base.fusion,
                lambda xs: base.forest_proba(xs[:, base_columns]),
                lambda b: base.cnn_proba(b)[0],
            )
            report["base_test"]["bundle"] = base.version
            report["test_vs_base"] = _mcnemar(report["test"], report["base_test"])
        if config.refit_forest_on_all:
            final_forest = _refit_forest_on_all(
                fdata, evidence, test, params, rng_seed, out_dir, config.ship_forest_rows
            )
            report["forest_refit_on_all"] = {
                "series": int(len(fdata.y) + evidence["informative"].sum()),
                "development_series": len(fdata.y),
                "groups": sorted({p.dataset for p in pool} | set(held)),
            }
            log(f"forest refit on every group ({report['forest_refit_on_all']['series']} real rows)")
    meta = {
        "name": config.name,
        "version": config.version,
        "classes": list(SEQUENCES),
        "forest_classes": list(final_forest.classes_),
        "forest_refit_on_all": bool(test) and config.refit_forest_on_all,
        "orient_classes": list(ORIENT_HEAD),
        "input_size": config.input_size,
        "slices_per_series": config.slices_per_series,
        "network": cnn_cfg.network,
        "cnn": "cnn.onnx",
        "forest": "forest.onnx",
        "torch_weights": "cnn.pt",
        "sklearn_forest": "forest.joblib",
        **({"forest_rows": FOREST_ROWS} if config.ship_forest_rows else {}),
        "feature_names": feature_names(),
        "forest_params": params,
        "fusion": fusion,
        "config": dict(asdict(config)),
        "labels": labelled.source,
        "test_groups": held,
        "fine_tuned_from": base.version if base is not None else None,
        "trained_seconds": round(time.monotonic() - t0, 1),
    }
    write_bundle_json(out_dir, meta)
    (out_dir / "validation.json").write_text(json.dumps(report, indent=1, default=str))
    from radclass.training.model_card import write_model_card

    write_model_card(out_dir, meta, report, items, test)
    from radclass.training.enhancement import build_gadolinium_test

    build_gadolinium_test(out_dir, items, held, log)  # T1 against T1C from the pixels (model card section)
    from radclass.training.timing_model import build_timing_model

    build_timing_model(out_dir, items, held, rng_seed, log)  # NIfTI volumes without a sidecar (model card section)
    from radclass.training.fluid_contrast import build_fluid_test

    build_fluid_test(out_dir, items, held, log)  # T2 against FLAIR from the pixels, for the timing model's T2 family
    from radclass.training.diffusion_test import build_diffusion_test

    build_diffusion_test(out_dir, items, held, log)  # DWI from the frames of a header-less time series
    log(f"bundle written to {out_dir} in {time.monotonic() - t0:.0f}s")
    return report


FOREST_ROWS = "forest_rows.npz"  # the forest's training rows (feature matrix + labels), for fine-tuning
_EXPORT_RESERVE_S = 10.0  # seconds of a time box kept for the export and the test split


def _export_forest(forest: Any, X: np.ndarray, y: np.ndarray, out_dir: Path, rows: bool) -> None:
    """Write the forest (ONNX for annotate, joblib for SHAP) and, if ``rows``, its training rows (what a fine-tune
    trains on)."""
    import joblib

    export_forest_onnx(forest, X.shape[1], out_dir / "forest.onnx")
    joblib.dump(forest, out_dir / "forest.joblib", compress=3)
    if rows:
        np.savez_compressed(out_dir / FOREST_ROWS, X=X.astype(np.float32), y=y.astype(str))


def _refit_forest_on_all(
    fdata: ForestData,
    evidence: dict[str, Any],
    test: list[LabelledSeries],
    params: dict[str, Any],
    seed: int,
    out_dir: Path,
    rows: bool,
) -> Any:
    """The shipped forest refit on the development and the test groups' informative rows plus the extra rows,
    with the hyper-parameters chosen on the development groups; written over the development forest."""
    inf = evidence["informative"]
    X_test = header_matrix(evidence["rows"])[inf]
    y_test = np.array([p.sequence for p in test], dtype=object)[inf]
    X = np.concatenate([fdata.X, X_test, fdata.X_extra])
    y = np.concatenate([fdata.y, y_test, fdata.y_extra])
    forest = fit_forest(X, y, params, seed)
    _export_forest(forest, X, y, out_dir, rows)
    return forest


def _keep_base_preprocessing(config: MriBundleConfig, base: ModelBundle) -> MriBundleConfig:
    """The recipe with the base bundle's network, input size and slices per series (its preprocessing)."""
    if "torch_weights" not in base.metadata.files or not base.has("torch_weights"):
        raise ValueError(f"The bundle {base.folder} has no torch weights (cnn.pt) to fine-tune from.")
    missing = sorted(set(feature_names()) - set(base.feature_names or feature_names()))
    if missing:  # its stored rows could not be given the features this version computes
        raise ValueError(
            f"The bundle {base.folder} lacks header features this radclass computes ({missing[:5]}); "
            "it cannot be fine-tuned, train from scratch instead."
        )
    cnn = {**config.cnn, "network": base.metadata.network or config.cnn.get("network", "multitask")}
    return replace(
        config,
        input_size=base.input_size,
        cnn=cnn,
        slices_per_series=base.slices_per_series if "slices_per_series" in base.meta else config.slices_per_series,
    )


def _extra_forest_rows(config: MriBundleConfig, base: ModelBundle | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Rows every forest trains on besides the local ones: the base bundle's training rows when fine-tuning,
    else synthetic rows of the protocol sampler."""
    from radclass.training.synthetic_headers import synthetic_rows

    if base is not None and (base.folder / base.meta.get("forest_rows", FOREST_ROWS)).exists():
        data = np.load(base.folder / base.meta.get("forest_rows", FOREST_ROWS))
        stored = base.feature_names or feature_names()
        columns = [stored.index(n) for n in feature_names()]  # the base's columns, by name, in today's order
        return data["X"][:, columns], data["y"].astype(object), f"the training rows of {base.version}"
    # A bundle built before forest_rows.npz existed does not ship its real rows (they are the pool's headers,
    # not redistributable with the model); its synthetic rows are regenerated from its own recipe.
    n, seed = config.synthetic_headers_per_class, config.seed
    source = f"{n} synthetic rows per class"
    if base is not None:
        n = int(base.meta.get("config", {}).get("synthetic_headers_per_class", n))
        seed = int(base.meta.get("config", {}).get("seed", seed))
        source = (
            f"{n} synthetic rows per class regenerated from {base.version}'s recipe (it does not ship "
            "its real training rows)"
        )
    syn_rows, syn_y = synthetic_rows(n, seed=seed, classes=config.classes or SEQUENCES)
    return header_matrix(syn_rows), np.array(syn_y, dtype=object), source


def _epoch_logger(stage: str, log: Log, on_epoch: Progress | None) -> Callable[[int, int, dict], None]:
    def report(epoch: int, epochs: int, record: dict) -> None:
        if on_epoch is not None:
            on_epoch(stage, epoch, epochs, record)
        acc = f", held-out accuracy {record['monitor_acc']:.3f}" if "monitor_acc" in record else ""
        acc += f", validation accuracy {record['val_acc']:.3f}" if "val_acc" in record else ""
        stop = f" (stopped: {record['stopped']})" if "stopped" in record else ""
        log(f"{stage} epoch {epoch}/{epochs}: loss {record['loss']:.3f}{acc}{stop}")

    return report


def _test_evidence(test: list[LabelledSeries], k: int, size: int) -> dict[str, Any]:
    """Header rows and inference-time slices (``k`` per series, as annotate reads them) of the test series."""
    slices = pool_slices(test, k=k, size=size, reslice_isotropic=False)
    rows = [p.series.row() for p in test]
    informative = np.array([header_forest_votes(r) for r in rows], dtype=bool)
    return {"slices": slices, "rows": rows, "informative": informative}


def _test_report(
    test: list[LabelledSeries],
    ev: dict[str, Any],
    fusion: dict[str, Any],
    forest: Callable[[np.ndarray], np.ndarray],
    cnn: Callable[[np.ndarray], np.ndarray],
) -> dict[str, Any]:
    """Fused predictions of one model on the test series, and their figures (see :func:`split_metrics`), by
    the decision policy inference applies (:mod:`radclass.models.decision`): the bundle's pool and thresholds."""
    y = np.array([p.sequence for p in test])
    forest_p: list[np.ndarray | None] = [None] * len(test)
    if ev["informative"].any():
        fp = forest(header_matrix([r for r, i in zip(ev["rows"], ev["informative"]) if i]))
        for j, i in enumerate(np.flatnonzero(ev["informative"])):
            forest_p[i] = fp[j]
    slices: SliceSet = ev["slices"]
    seq = cnn(slices.x) if len(slices.x) else np.zeros((0, len(SEQUENCES)), np.float32)
    slice_p = [seq[slices.series == p.id] if (slices.series == p.id).any() else None for p in test]
    pred, conf = _fused(slice_p, forest_p, fusion)
    threshold = np.array([abstention_threshold(fusion, f is not None) for f in forest_p])
    out = split_metrics(y, pred, conf, threshold)
    out["cnn_only"] = _series_metrics(
        y, _aligned({p.id: s for p, s in zip(test, slice_p) if s is not None}, [p.id for p in test])
    )
    out["forest_only"] = _series_metrics(
        y, np.array([f if f is not None else np.full(len(SEQUENCES), np.nan) for f in forest_p], np.float32)
    )
    out["predictions"] = [
        {"path": p.id, "group": p.dataset, "truth": t, "pred": q, "confidence": float(c)}
        for p, t, q, c in zip(test, y, pred, conf)
    ]
    return out


def split_metrics(y: np.ndarray, pred: np.ndarray, conf: np.ndarray, threshold: np.ndarray) -> dict[str, Any]:
    """Figures of one split: accuracy, per-class recall with Clopper-Pearson 95% CIs, the confusion matrix, and
    the coverage/accuracy trade-off of the abstention rule (at the bundle's thresholds and over a grid).

    ``pred`` is '' where a series had no evidence (counted as wrong, never accepted).
    """
    from radclass.evaluate.metrics import clopper_pearson

    correct = pred == y
    per_class = {}
    for c in sorted(set(y)):
        k, n = int(correct[y == c].sum()), int((y == c).sum())
        lo, hi = clopper_pearson(k, n)
        per_class[c] = {
            "n": n,
            "correct": k,
            "recall": k / n,
            "ci_low": lo,
            "ci_high": hi,
            "precision": float((y[pred == c] == c).mean()) if (pred == c).any() else None,
        }
    labels = sorted(set(y) | (set(pred) - {""}))
    confusion = {t: {q: int(((y == t) & (pred == q)).sum()) for q in labels} for t in sorted(set(y))}
    k_all = int(correct.sum())
    lo, hi = clopper_pearson(k_all, len(y))
    accepted = (pred != "") & (conf >= threshold)
    tradeoff = []
    for t in (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95):
        acc_t = (pred != "") & (conf >= t)
        tradeoff.append(
            {
                "threshold": t,
                "coverage": float(acc_t.mean()),
                "accuracy": float(correct[acc_t].mean()) if acc_t.any() else None,
            }
        )
    return {
        "n": int(len(y)),
        "accuracy": k_all / max(len(y), 1),
        "accuracy_ci": [lo, hi],
        "balanced_accuracy": _bal(y, pred),
        "per_class": per_class,
        "confusion": confusion,
        "abstention": {
            "coverage": float(accepted.mean()) if len(y) else 0.0,
            "n_accepted": int(accepted.sum()),
            "accepted_accuracy": float(correct[accepted].mean()) if accepted.any() else None,
        },
        "tradeoff": tradeoff,
    }


def _compare_models_per_group(
    y: np.ndarray, groups: np.ndarray, forest_oof: np.ndarray, cnn_oof: np.ndarray, report: dict[str, Any]
) -> dict[str, Any]:
    """Friedman + Nemenyi over CNN vs forest vs fusion, blocks = the held-out groups of the cross-validation
    (accuracy on each group's series that both models could read), as Kasmanoff et al. compare their models."""
    from radclass.evaluate.compare import friedman_nemenyi

    fused = {p["path"]: p["pred"] for p in report["predictions"]}
    both = ~np.isnan(forest_oof).any(1) & ~np.isnan(cnn_oof).any(1)
    names = ["CNN", "forest", "fusion"]
    preds = [
        np.asarray(SEQUENCES)[np.nan_to_num(cnn_oof).argmax(1)],
        np.asarray(SEQUENCES)[np.nan_to_num(forest_oof).argmax(1)],
        np.array([fused[p["path"]] for p in report["predictions"]]),
    ]
    rows, blocks = [], []
    for g in np.unique(groups):
        m = both & (groups == g)
        if m.any():
            rows.append([float((pr[m] == y[m]).mean()) for pr in preds])
            blocks.append(str(g))
    out: dict[str, Any] = {"blocks": blocks, "accuracy_per_block": rows, "names": names}
    try:
        fn = friedman_nemenyi(np.array(rows).reshape(-1, 3), names)
    except ValueError as err:
        out["skipped"] = str(err)
        return out
    out.update(
        {
            "average_ranks": fn.average_ranks.to_dict(),
            "p_value": fn.p_value,
            "nemenyi_p": fn.pairwise_p.to_dict(orient="index"),
        }
    )
    return out


def _mcnemar(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """McNemar's test between two models' (unabstained) correctness on the same test series."""
    from radclass.evaluate.compare import mcnemar_test

    a = np.array([p["truth"] == p["pred"] for p in new["predictions"]])
    b = np.array([p["truth"] == p["pred"] for p in old["predictions"]])
    res = mcnemar_test(a, b)
    return {
        "method": res.method,
        "statistic": res.statistic,
        "p_value": res.p_value,
        "only_new_correct": int((a & ~b).sum()),
        "only_base_correct": int((~a & b).sum()),
    }


def _cnn_out_of_fold(
    pool: list[LabelledSeries],
    real: SliceSet,
    sim: SliceSet,
    cfg: CnnConfig,
    config: MriBundleConfig,
    log: Log,
    deadline: float | None = None,
    on_epoch: Progress | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
    """Per-series slice probabilities from CNNs trained without the series' group fold (with and without
    simulated slices in training). With a ``deadline`` the folds share the time left equally."""
    groups = np.array(sorted({p.dataset for p in pool if p.pixels_usable}))
    k = min(config.cnn_folds, len(groups))
    fold_of = dict(zip(groups, group_folds(groups, k, config.seed))) if k >= 2 else {}
    fold_cfg = replace(cfg, epochs=config.cnn_fold_epochs)
    with_sim: dict[str, np.ndarray] = {}
    without: dict[str, np.ndarray] | None = {} if len(sim.x) and config.compare_simulation else None
    runs = k * (2 if without is not None else 1)
    run = 0
    for i in range(k if k >= 2 else 0):
        held = [str(g) for g in groups if fold_of[g] == i]
        test = np.isin(real.group, held)
        train_real = real.subset(~test)
        variants = [("sim" if len(sim.x) else "real", SliceSet.concat([train_real, sim]), with_sim)]
        if without is not None:
            variants.append(("nosim", train_real, without))
        for name, train_set, store in variants:
            run_cfg = fold_cfg
            if deadline is not None:
                run_cfg = replace(
                    fold_cfg, deadline=time.monotonic() + max(deadline - time.monotonic(), 0) / (runs - run)
                )
            run += 1
            if not len(train_set.x):
                continue
            stage = f"CNN fold {i + 1}/{k} ({name})"
            model, _ = train_cnn(
                train_set, None, run_cfg, progress=_epoch_logger(stage, log, on_epoch), monitor=real.subset(test)
            )
            proba, _ = predict_proba(model, real.x[test])
            for path in np.unique(real.series[test]):
                store[path] = proba[real.series[test] == path]
            log(f"{stage} held out {held}")
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
    return {
        "n": int(ok.sum()),
        "accuracy": float((pred == yy).mean()),
        "balanced_accuracy": _bal(yy, pred),
        "per_class": per_class,
    }


def _choose_fusion(
    y: np.ndarray,
    paths: list[str],
    forest_oof: np.ndarray,
    cnn_oof: dict[str, np.ndarray],
    config: MriBundleConfig,
    groups: np.ndarray | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Grid-search the CNN share of the log-linear pool for balanced accuracy, then one abstention threshold
    per kind of evidence (series with an informative header / pixels only) for the stated error rate.

    Two rules keep weak pixel evidence out (the same bar as the pixel-signature model's class thresholds):

    * the CNN gets a share only if the fused predictions are right on measurably more header-informed series
      than the forest's alone: McNemar's test on the out-of-fold correctness, p < 0.05 (else the share is 0);
    * series with pixels only are answered only if the pixel threshold accepts at least
      :data:`PIXEL_MIN_ACCEPTED` out-of-fold series from at least :data:`PIXEL_MIN_GROUPS` groups (else the
      threshold is 1.0: such series are UNKNOWN, with the CNN's guess in the reason).
    """
    from radclass.evaluate.compare import mcnemar_test

    groups = np.asarray(groups if groups is not None else paths, dtype=object)
    slice_p = [cnn_oof.get(p) for p in paths]
    forest_p = [None if np.isnan(f).any() else f for f in forest_oof]
    has_header = np.array([f is not None for f in forest_p])
    scores = []
    for alpha in config.alpha_grid:
        pred, _ = _fused(slice_p, forest_p, {"w_cnn": alpha, "w_forest": 1 - alpha})
        ok = pred != ""
        scores.append((_bal(y[ok], pred[ok]), alpha))
    alpha = max(scores)[1]
    share_test: dict[str, Any] = {"chosen_by_balanced_accuracy": alpha}
    if alpha > 0:
        best, _ = _fused(slice_p, forest_p, {"w_cnn": alpha, "w_forest": 1 - alpha})
        alone, _ = _fused(slice_p, forest_p, {"w_cnn": 0.0, "w_forest": 1.0})
        a, b = (best == y)[has_header], (alone == y)[has_header]
        res = mcnemar_test(a, b)
        share_test.update(
            p_value=res.p_value, only_fused_correct=int((a & ~b).sum()), only_forest_correct=int((~a & b).sum())
        )
        if not (res.p_value < 0.05 and a.sum() > b.sum()):
            alpha = 0.0
    share_test["kept"] = alpha
    pred, conf = _fused(slice_p, forest_p, {"w_cnn": alpha, "w_forest": 1 - alpha})
    ok = pred != ""
    thresholds = {}
    for name, group in (("threshold_header", ok & has_header), ("threshold_pixels", ok & ~has_header)):
        thresholds[name] = (
            threshold_for_error_rate(conf[group], pred[group] == y[group], config.max_error_rate)
            if group.any()
            else 1.0
        )
    pixel_only = ok & ~has_header
    accepted_px = pixel_only & (conf >= thresholds["threshold_pixels"])
    support = {
        "chosen_threshold": thresholds["threshold_pixels"],
        "accepted": int(accepted_px.sum()),
        "groups": len(set(groups[accepted_px])),
        "min_accepted": PIXEL_MIN_ACCEPTED,
        "min_groups": PIXEL_MIN_GROUPS,
    }
    if support["accepted"] < PIXEL_MIN_ACCEPTED or support["groups"] < PIXEL_MIN_GROUPS:
        thresholds["threshold_pixels"] = 1.0
    support["kept"] = thresholds["threshold_pixels"]
    threshold = np.where(has_header, thresholds["threshold_header"], thresholds["threshold_pixels"])
    vote = np.array(
        [
            SEQUENCES[int(np.argmax(majority_vote(s, f)))]
            if s is not None
            else (SEQUENCES[int(np.argmax(f))] if f is not None else "")
            for s, f in zip(slice_p, forest_p)
        ]
    )
    accepted = ok & (conf >= threshold)
    report = {
        "n_series": int(len(y)),
        "alpha_scores": [{"cnn_share": a, "balanced_accuracy": b} for b, a in scores],
        "cnn_share_test": share_test,
        "pixel_threshold_support": support,
        "fusion": {"accuracy": float((pred[ok] == y[ok]).mean()), "balanced_accuracy": _bal(y[ok], pred[ok])},
        "majority_vote": {"accuracy": float((vote[ok] == y[ok]).mean()), "balanced_accuracy": _bal(y[ok], vote[ok])},
        "abstention": {
            **thresholds,
            "coverage": float(accepted.sum() / max(ok.sum(), 1)),
            "accepted_accuracy": float((pred[accepted] == y[accepted]).mean()) if accepted.any() else None,
            "coverage_header": float(accepted[has_header].mean()) if has_header.any() else None,
            "coverage_pixels": float(accepted[~has_header & ok].mean()) if (~has_header & ok).any() else None,
        },
        "per_class": {
            c: {
                "n": int((y[ok] == c).sum()),
                "recall": float((pred[ok][y[ok] == c] == c).mean()),
                "precision": float((y[ok][pred[ok] == c] == c).mean()) if (pred[ok] == c).any() else None,
            }
            for c in np.unique(y[ok])
        },
        "predictions": [
            {"path": p, "truth": t, "pred": q, "confidence": float(c), "header": bool(h)}
            for p, t, q, c, h in zip(paths, y, pred, conf, has_header)
        ],
    }
    return {
        "w_cnn": alpha,
        "w_forest": 1 - alpha,
        "temperature": 1.0,
        **thresholds,
        "max_error_rate": config.max_error_rate,
    }, report


def _fused(slice_p: list, forest_p: list, fusion: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Fused labels and confidences of the validation series under the ``fusion`` settings, by the decision
    policy's pool (:func:`radclass.models.decision.fuse_evidence`); '' where a series has no evidence."""
    pred, conf = [], []
    for s, f in zip(slice_p, forest_p):
        if s is None and f is None:
            pred.append("")
            conf.append(0.0)
            continue
        p = fuse_evidence(s, f, fusion)
        pred.append(SEQUENCES[int(np.argmax(p))])
        conf.append(float(p.max()))
    return np.array(pred), np.array(conf)


def _bal(y: np.ndarray, pred: np.ndarray) -> float:
    from radclass.evaluate.metrics import balanced_accuracy

    return balanced_accuracy(y, pred, empty=0.0)
