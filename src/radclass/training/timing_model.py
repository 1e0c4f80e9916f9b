"""The timing model: a forest over TR, TE, b-values, volumes and voxel size, for headers that name no technique.

A NIfTI volume whose sidecar is gone keeps, when dcm2niix wrote it, the echo time (``descrip``), the repetition
time (pixdim[4]) and the b-values (a ``.bval`` file): :func:`radclass.io.volumes.nifti_series`. The header forest
never saw a header that thin, so a bundle carries this second header model for them
(:class:`radclass.models.bundle.TimingModel`).

- **Rows**: every labelled series whose header has a TR or TE, reduced to what such a NIfTI keeps
  (:func:`radclass.features.header.timing_row`), with its dataset as group; and the protocol sampler's synthetic
  rows (:mod:`radclass.training.synthetic_headers`), reduced the same way, in every training fold. T1C counts as
  T1: the timing of a T1 series does not change with gadolinium (the bundle's gadolinium test decides T1C). FLAIR
  counts as T2 (:data:`FAMILIES`): without the inversion time their timing is alike (the fluid test decides).
- **Thresholds**: per class (:func:`radclass.models.ensemble.class_thresholds`) on leave-one-dataset-out
  predictions of the real rows: a class answers from the confidence at which at most
  :data:`MAX_ERROR` of its out-of-fold answers were wrong, with at least :data:`MIN_ACCEPTED` answers from
  :data:`MIN_DATASETS` datasets; otherwise it abstains.
- **Validation**: nested leave-one-dataset-out (:func:`nested_lodo`): for each held-out dataset the thresholds
  come from inner folds of the others; the outer answers are reported. The bundle's test groups are kept out of
  every choice and scored once (:func:`build_timing_model`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from radclass.features.header import TIMING_FEATURES, header_matrix, timing_row
from radclass.models.bundle import ModelBundle, TimingModel, write_bundle_json
from radclass.models.decision import class_threshold_decision, header_is_informative
from radclass.models.ensemble import class_thresholds
from radclass.taxonomy import SEQUENCES, UNKNOWN, SequenceClass
from radclass.training.forest import ForestData, export_forest_onnx, fit_forest, full_proba, lodo_proba
from radclass.training.model_card import share, share_text, write_card_section
from radclass.training.pool import LabelledSeries

Log = Callable[[str], None]

#: Forest settings (nine features: three per split; 100 trees keep `timing.onnx` near 4 MB).
PARAMS: dict[str, Any] = {"n_estimators": 100, "min_samples_leaf": 3, "max_features": "sqrt"}
#: A class answers where at most this share of its out-of-fold answers were wrong ...
MAX_ERROR = 0.05
#: ... with at least this many answers ...
MIN_ACCEPTED = 5
#: ... from at least this many datasets.
MIN_DATASETS = 2
#: Inner folds of the nested validation (whole datasets dealt into this many folds).
INNER_FOLDS = 5
FILE = "timing.onnx"


#: Classes that stand for several sequences the timing cannot separate, and that the pixels decide
#: (:attr:`radclass.models.bundle.TimingModel.families`): a dcm2niix header keeps no inversion time, and a FLAIR's
#: TR and TE are a T2's, so the fluid test (:mod:`radclass.training.fluid_contrast`) tells them apart.
FAMILIES: dict[str, tuple[str, ...]] = {SequenceClass.T2.value: (SequenceClass.T2.value, SequenceClass.FLAIR.value)}


def timing_label(sequence: str) -> str:
    """The class the timing model learns for a series of ``sequence``: T1C is T1 (gadolinium leaves TR/TE; the
    gadolinium test decides T1C), a member of a :data:`FAMILIES` class is that class (FLAIR is T2)."""
    if sequence == SequenceClass.T1C:
        return SequenceClass.T1.value
    return next((family for family, members in FAMILIES.items() if sequence in members), sequence)


def timing_data(items: Sequence[LabelledSeries], synthetic_per_class: int = 200, seed: int = 0) -> ForestData:
    """The timing model's training rows: the real series whose header has a TR or TE (groups: their datasets)
    and ``synthetic_per_class`` synthetic rows per class, all reduced to the timing fields."""
    from radclass.training.synthetic_headers import synthetic_rows

    rows, labels, groups = [], [], []
    for p in items:
        row = timing_row(p.series.row())
        if header_is_informative(row):
            rows.append(row)
            labels.append(timing_label(p.sequence))
            groups.append(p.dataset)
    syn_rows, syn_y = synthetic_rows(synthetic_per_class, seed=seed)
    return ForestData(
        X=header_matrix(rows, TIMING_FEATURES),
        y=np.array(labels, dtype=object),
        groups=np.array(groups, dtype=object),
        X_extra=header_matrix([timing_row(r) for r in syn_rows], TIMING_FEATURES),
        y_extra=np.array([timing_label(c) for c in syn_y], dtype=object),
    )


def thresholds_from(proba: np.ndarray, y: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Class -> threshold from out-of-fold probabilities (classes that never qualify are left out)."""
    t = class_thresholds(proba, y, SEQUENCES, MAX_ERROR, MIN_ACCEPTED, groups, MIN_DATASETS)
    return {str(c): round(float(v), 4) for c, v in zip(SEQUENCES, t) if v <= 1.0}


def answers(proba: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    """The model's answer per row, by annotate's own rule (:func:`radclass.models.decision.class_threshold_decision`):
    its class where the class's threshold is reached, else UNKNOWN."""
    out = [class_threshold_decision(p, SEQUENCES, thresholds) for p in np.nan_to_num(proba)]
    return np.array([d.label if d is not None else UNKNOWN for d in out], dtype=object)


def _subset(data: ForestData, keep: np.ndarray) -> ForestData:
    return ForestData(data.X[keep], data.y[keep], data.groups[keep], data.X_extra, data.y_extra)


def _fit(data: ForestData, seed: int) -> Any:
    """The forest on the real rows and the synthetic ones."""
    if len(data.y_extra):
        return fit_forest(np.concatenate([data.X, data.X_extra]), np.concatenate([data.y, data.y_extra]), PARAMS, seed)
    return fit_forest(data.X, data.y, PARAMS, seed)


@dataclass
class NestedResult:
    """Outer-fold answers of :func:`nested_lodo`, one per real row, and the thresholds each fold chose."""

    y: np.ndarray
    groups: np.ndarray
    answer: np.ndarray
    chosen: dict[str, dict[str, float]]


def nested_lodo(data: ForestData, seed: int = 0, log: Log = print) -> NestedResult:
    """Each dataset held out in turn: thresholds from inner leave-one-dataset-out predictions of the others,
    a forest fitted on the others (and the synthetic rows), then the held-out rows answered once."""
    answer = np.full(len(data.y), UNKNOWN, dtype=object)
    chosen: dict[str, dict[str, float]] = {}
    for d in sorted(set(data.groups)):
        outer = data.groups == d
        inner = _subset(data, ~outer)
        proba = lodo_proba(inner, PARAMS, seed=seed, max_folds=INNER_FOLDS)
        chosen[d] = thresholds_from(proba, inner.y, inner.groups)
        forest = _fit(inner, seed)
        answer[outer] = answers(full_proba(forest, data.X[outer]), chosen[d])
    log(f"timing model: nested leave-one-dataset-out over {len(chosen)} datasets")
    return NestedResult(data.y, data.groups, answer, chosen)


def figures(y: np.ndarray, answer: np.ndarray) -> dict[str, Any]:
    """Per class and overall: series, answered (coverage), right among the answered (precision), with 95%
    Clopper-Pearson intervals."""
    given = answer != UNKNOWN
    right = given & (answer == y)
    per_class = {}
    for c in sorted(set(y)):
        mine = y == c
        per_class[c] = {
            "series": int(mine.sum()),
            "answered": share(given[mine].sum(), mine.sum()),
            "right": int(right[mine].sum()),
            "called_as_this": share(right[answer == c].sum(), (answer == c).sum()),
        }
    return {
        "series": len(y),
        "answered": share(given.sum(), len(y)),
        "precision": share(right.sum(), given.sum()),
        "per_class": per_class,
    }


def add_timing_model(
    bundle_dir: Path, data: ForestData, test: ForestData, seed: int = 0, log: Log = print
) -> dict[str, Any]:
    """Validate (nested), fit on the development rows and write the timing model into ``bundle_dir``
    (``timing.onnx`` and the ``timing_model`` table of ``bundle.json``); ``test`` rows (the bundle's test groups)
    are scored once with the shipped model. Returns the validation record."""
    nested = nested_lodo(data, seed, log)
    proba = lodo_proba(data, PARAMS, seed=seed, max_folds=INNER_FOLDS)
    thresholds = thresholds_from(proba, data.y, data.groups)
    forest = _fit(data, seed)
    export_forest_onnx(forest, len(TIMING_FEATURES), Path(bundle_dir) / FILE)
    test_answer = answers(full_proba(forest, test.X), thresholds) if len(test.y) else np.zeros(0, object)
    validation: dict[str, Any] = {
        "outer_lodo": figures(nested.y, nested.answer),
        "test_groups": figures(test.y, test_answer),
        "development_rows": len(data.y),
        "synthetic_rows": len(data.y_extra),
        "outer_thresholds": nested.chosen,
        "rule": {"max_error": MAX_ERROR, "min_accepted": MIN_ACCEPTED, "min_datasets": MIN_DATASETS},
    }
    classes = tuple(str(c) for c in forest.classes_)
    families = {c: members for c, members in FAMILIES.items() if c in classes}
    table = TimingModel(features=TIMING_FEATURES, classes=classes, thresholds=thresholds, families=families)
    meta = ModelBundle.load(bundle_dir).meta
    meta["timing"] = FILE
    meta["timing_model"] = {
        "features": list(table.features),
        "classes": list(table.classes),
        "thresholds": dict(table.thresholds),
        "families": {c: list(m) for c, m in table.families.items()},
        "params": PARAMS,
        "validation": validation,
    }
    write_bundle_json(bundle_dir, meta)
    write_card_section(Path(bundle_dir) / "model_card.md", CARD_HEADING, card_section(meta["timing_model"]))
    outer = figures(nested.y, nested.answer)
    log(
        f"timing model: thresholds {thresholds}; outer folds answered {outer['answered']['k']}/{outer['series']}, "
        f"right {outer['precision']['k']}/{outer['precision']['n']}"
    )
    return validation


def build_timing_model(
    bundle_dir: Path, items: Sequence[LabelledSeries], test_groups: Sequence[str], seed: int = 0, log: Log = print
) -> dict[str, Any] | None:
    """The timing model of a bundle being built from ``items`` (``test_groups`` kept out of every choice); None,
    with the reason logged, when too few datasets have timing to validate one."""
    held = set(test_groups)
    development = timing_data([p for p in items if p.dataset not in held], seed=seed)
    test = timing_data([p for p in items if p.dataset in held], synthetic_per_class=0, seed=seed)
    if len(set(development.groups)) < 3:
        log("no timing model in this bundle: fewer than three development datasets have a TR or TE")
        return None
    return add_timing_model(bundle_dir, development, test, seed, log)


CARD_HEADING = "## Timing model (headers with TR/TE and nothing else)"


def card_section(table: dict[str, Any]) -> list[str]:
    """The model card's section on the timing model, from its ``timing_model`` table."""
    v = table["validation"]
    outer, test, rule = v["outer_lodo"], v["test_groups"], v["rule"]
    lines = [
        CARD_HEADING,
        "",
        "A header with acquisition timing but no field naming the technique (a NIfTI volume without its sidecar:",
        "dcm2niix's TE and TR, a `.bval` file) is judged by a forest over "
        f"{', '.join(table['features'])} (`timing.onnx`; flag `sequence_from_timing`). T1 stands for the T1 family;",
        "the gadolinium test decides T1C. T2 stands for T2 and FLAIR; the fluid test decides between them.",
        "A class answers only from its validated threshold "
        f"(out of fold at most {rule['max_error']:.0%} wrong, at least {rule['min_accepted']} answers from "
        f"{rule['min_datasets']} datasets): {table['thresholds'] or 'none'}; every other class abstains (UNKNOWN).",
        "",
        f"Nested leave-one-dataset-out over {outer['series']} development series with timing "
        f"({v['synthetic_rows']} synthetic rows in every training fold): answered {share_text(outer['answered'])}, "
        f"right {share_text(outer['precision'])} of the answered.",
        f"Test groups ({test['series']} series, scored once): answered {share_text(test['answered'])}, right "
        f"{share_text(test['precision'])}.",
        "",
        "| class | series (outer folds) | answered | right | answers of this class that were right |",
        "|---|---|---|---|---|",
    ]
    for c, f in outer["per_class"].items():
        lines.append(
            f"| {c} | {f['series']} | {f['answered']['k']} | {f['right']} | {share_text(f['called_as_this'])} |"
        )
    return [*lines, ""]
