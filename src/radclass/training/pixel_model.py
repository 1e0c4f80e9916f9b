"""The pixel model: a tree ensemble over the tissue-contrast signature, validated by nested leave-one-dataset-out.

Training data are the pool's real brain series with usable pixels (one group per dataset) plus, optionally,
domain-randomised simulated series (:mod:`radclass.simulate`: tissue physics kept, resolution, noise, bias field,
ghosts, pose, protocol and vendor randomised), which join every training fold and are never evaluated.

Nested validation: for each held-out dataset (outer fold), the feature set, the use of simulation and the
abstention threshold are chosen on inner group folds of the remaining datasets only; the reported figures are
the outer folds' predictions (:class:`NestedResult`). The final model's choices are made the same way on the
whole pool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from radclass.features.contrast import DEFAULT_SLICES, FEATURE_NAMES, GEOMETRY_NAMES, contrast_features
from radclass.features.tissue import BRAIN_NAMES, EDGE_NAMES, TISSUE_NAMES
from radclass.models.ensemble import PIXEL_MIN_ACCEPTED, PIXEL_MIN_GROUPS, class_thresholds
from radclass.taxonomy import SEQUENCES

Log = Callable[[str], None]

FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "all": FEATURE_NAMES,
    "intensity": tuple(n for n in FEATURE_NAMES if n not in GEOMETRY_NAMES),
    "deep+geometry": tuple(
        n for n in FEATURE_NAMES if n.startswith(("deep_", "profile", "core")) or n in GEOMETRY_NAMES
    ),
    "deep+wm": tuple(n for n in FEATURE_NAMES if n.startswith(("deep_", "wm_"))),
    # inside the rough brain mask and across inner edges only: no skull, scalp, background or value scale
    "tissue": TISSUE_NAMES,
    "tissue+geometry": TISSUE_NAMES + GEOMETRY_NAMES,
    "tissue+deep": TISSUE_NAMES + tuple(n for n in FEATURE_NAMES if n.startswith(("deep_", "wm_"))),
    "brain": BRAIN_NAMES,
    "edge": EDGE_NAMES,
}
CLASSIFIERS: tuple[str, ...] = ("trees", "logistic")


@dataclass(frozen=True)
class PixelModelConfig:
    """Settings of the pixel model (stored only; validated by :meth:`validate`).

    Parameters
    ----------
    slices
        Slices per series read for the signature.
    simulated_per_class
        Simulated series per class (0: none).
    n_estimators
        Trees of the extremely randomised forest.
    feature_sets
        Candidate feature sets (keys of :data:`FEATURE_SETS`), chosen on inner folds.
    simulation_choices
        Candidate settings for adding the simulated series, chosen on inner folds.
    classifiers
        Candidate classifiers (:data:`CLASSIFIERS`: class-balanced extremely randomised trees, or a standardised,
        class-balanced, L2-regularised logistic regression), chosen on inner folds.
    inner_folds
        Group folds (of datasets) of the inner validation.
    max_error_rate
        Error rate that a class's abstention threshold allows on inner-fold predictions.
    min_accepted, min_datasets
        Inner-fold predictions of a class, and the datasets they come from, that its threshold must accept
        (fewer: the class never answers from pixels alone).
    seed
        Random seed.
    """

    slices: int = DEFAULT_SLICES
    simulated_per_class: int = 24
    n_estimators: int = 200
    feature_sets: tuple[str, ...] = ("all", "tissue+geometry")
    simulation_choices: tuple[bool, ...] = (True, False)
    classifiers: tuple[str, ...] = CLASSIFIERS
    inner_folds: int = 5
    max_error_rate: float = 0.05
    min_accepted: int = PIXEL_MIN_ACCEPTED
    min_datasets: int = PIXEL_MIN_GROUPS
    seed: int = 0

    def validate(self) -> None:
        unknown = [f for f in self.feature_sets if f not in FEATURE_SETS]
        if unknown:
            raise ValueError(f"Unknown pixel feature sets {unknown}; choose from {sorted(FEATURE_SETS)}.")
        if not self.feature_sets or not self.simulation_choices or not self.classifiers:
            raise ValueError("The pixel model needs at least one feature set, simulation choice and classifier.")
        wrong = [c for c in self.classifiers if c not in CLASSIFIERS]
        if wrong:
            raise ValueError(f"Unknown pixel classifiers {wrong}; choose from {list(CLASSIFIERS)}.")
        if self.slices < 1 or self.inner_folds < 2 or not 0 < self.max_error_rate < 1:
            raise ValueError("slices must be >= 1, inner_folds >= 2 and max_error_rate within (0, 1).")


@dataclass
class PixelExamples:
    """Signatures with their labels, dataset groups and source paths."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    paths: list[str] = field(default_factory=list)

    @staticmethod
    def empty() -> PixelExamples:
        return PixelExamples(np.zeros((0, len(FEATURE_NAMES)), np.float32), np.zeros(0, object), np.zeros(0, object))

    def subset(self, mask: np.ndarray) -> PixelExamples:
        return PixelExamples(self.X[mask], self.y[mask], self.groups[mask], [p for p, m in zip(self.paths, mask) if m])


def pool_examples(pool: Sequence[Any], slices: int = DEFAULT_SLICES, log: Log = print) -> PixelExamples:
    """Signatures of the pool's brain series with usable pixels (series that fail to decode are logged)."""
    from radclass.features.contrast import series_signature

    X, y, groups, paths = [], [], [], []
    for item in pool:
        if not item.pixels_usable or item.anatomy != "brain":
            continue
        try:
            X.append(series_signature(item.series, slices))
        except Exception as err:  # a series whose pixels cannot be described is left out, with its reason
            log(f"pixel model: {item.series.path} left out ({type(err).__name__}: {err})")
            continue
        y.append(item.sequence)
        groups.append(item.dataset)
        paths.append(item.series.path)
    if not X:
        return PixelExamples.empty()
    return PixelExamples(np.stack(X), np.array(y, object), np.array(groups, object), paths)


def simulated_examples(
    n_per_class: int, slices: int = DEFAULT_SLICES, seed: int = 0, classes: Sequence[str] = SEQUENCES
) -> PixelExamples:
    """Signatures of ``n_per_class`` simulated series per class (random plane; a third of them sagittal or
    coronal)."""
    if n_per_class <= 0:
        return PixelExamples.empty()
    from radclass.simulate.slices import simulate_slices

    rng = np.random.default_rng(seed)
    X, y = [], []
    for seq in classes:
        for i in range(n_per_class):
            plane = ("AX", "AX", "SAG", "COR")[i % 4]
            stack = simulate_slices(seq, plane, rng, n_slices=slices, size=128)
            try:
                X.append(contrast_features(list(stack), None))
            except ValueError:
                continue
            y.append(seq)
    return PixelExamples(np.stack(X), np.array(y, object), np.array(["simulated"] * len(y), object))


def fit_pixel_model(X: np.ndarray, y: np.ndarray, n_estimators: int = 200, seed: int = 0, classifier: str = "trees"):
    """A class-balanced classifier on signatures: extremely randomised trees, or a standardised logistic
    regression (``classifier="logistic"``; fewer degrees of freedom to learn a site by)."""
    if classifier == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        logistic = LogisticRegression(C=0.1, class_weight="balanced", max_iter=3000)
        return make_pipeline(StandardScaler(), logistic).fit(X, y)
    from sklearn.ensemble import ExtraTreesClassifier

    model = ExtraTreesClassifier(
        n_estimators=n_estimators,
        min_samples_leaf=2,
        max_features="sqrt",
        class_weight="balanced",
        random_state=seed,
        n_jobs=-1,
    )
    return model.fit(X, y)


def columns(feature_set: str) -> np.ndarray:
    """Indices into :data:`FEATURE_NAMES` of a feature set."""
    return np.array([FEATURE_NAMES.index(n) for n in FEATURE_SETS[feature_set]])


@dataclass(frozen=True)
class Choice:
    """One candidate setting of the pixel model."""

    feature_set: str
    simulation: bool
    classifier: str = "trees"


def _proba(model, X: np.ndarray) -> np.ndarray:
    from radclass.training.forest import full_proba

    return full_proba(model, X)


def _train_predict(
    train: PixelExamples, sim: PixelExamples, test_X: np.ndarray, choice: Choice, config: PixelModelConfig
) -> np.ndarray:
    return _proba(fit_choice(train, sim, choice, config), test_X[:, columns(choice.feature_set)])


def fit_choice(train: PixelExamples, sim: PixelExamples, choice: Choice, config: PixelModelConfig):
    """The classifier of ``choice`` fitted on ``train`` (plus the simulated series when the choice says so),
    on the columns of its feature set."""
    cols = columns(choice.feature_set)
    X, y = train.X, train.y
    if choice.simulation and len(sim.y):
        X, y = np.concatenate([X, sim.X]), np.concatenate([y, sim.y])
    return fit_pixel_model(X[:, cols], y, config.n_estimators, config.seed, choice.classifier)


def _group_folds(groups: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """``k`` folds of whole groups (at most one per group)."""
    names = sorted(set(groups))
    rng = np.random.default_rng(seed)
    rng.shuffle(names)
    k = min(k, len(names))
    return [np.isin(groups, names[i::k]) for i in range(k)]


def out_of_fold(
    data: PixelExamples, sim: PixelExamples, choice: Choice, config: PixelModelConfig, folds: list[np.ndarray]
) -> np.ndarray:
    """Probabilities of every example from models trained without its fold."""
    proba = np.zeros((len(data.y), len(SEQUENCES)), np.float32)
    for test in folds:
        if test.any() and (~test).any():
            proba[test] = _train_predict(data.subset(~test), sim, data.X[test], choice, config)
    return proba


def balanced_accuracy(y: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score

    pred = np.asarray(SEQUENCES, object)[proba.argmax(1)]
    return float(balanced_accuracy_score(list(y), list(pred)))


def choose(data: PixelExamples, sim: PixelExamples, config: PixelModelConfig) -> tuple[Choice, np.ndarray, list]:
    """The candidate with the best inner-fold balanced accuracy, its per-class abstention thresholds
    (:func:`radclass.models.ensemble.class_thresholds` on the inner-fold predictions, ``max_error_rate``) and the
    score of every candidate."""
    folds = _group_folds(data.groups, config.inner_folds, config.seed)
    scored = []
    for fs in config.feature_sets:
        for use_sim in config.simulation_choices:
            for classifier in config.classifiers:
                choice = Choice(fs, use_sim, classifier)
                proba = out_of_fold(data, sim, choice, config, folds)
                scored.append((balanced_accuracy(data.y, proba), choice, proba))
    best_score, best, proba = max(scored, key=lambda s: s[0])
    threshold = class_thresholds(
        proba,
        data.y,
        SEQUENCES,
        config.max_error_rate,
        config.min_accepted,
        groups=data.groups,
        min_groups=config.min_datasets,
    )
    return (
        best,
        threshold,
        [
            {
                "feature_set": c.feature_set,
                "simulation": c.simulation,
                "classifier": c.classifier,
                "balanced_accuracy": s,
            }
            for s, c, _ in scored
        ],
    )


@dataclass
class NestedResult:
    """Outer-fold predictions of nested leave-one-dataset-out validation."""

    proba: np.ndarray  # (n, len(SEQUENCES)) outer-fold probabilities
    thresholds: np.ndarray  # (n, len(SEQUENCES)) per-class thresholds chosen on the inner folds of each outer fold
    choices: dict[str, dict[str, Any]]  # outer dataset -> inner choice

    def predictions(self) -> np.ndarray:
        return np.asarray(SEQUENCES, object)[self.proba.argmax(1)]

    def confidence(self) -> np.ndarray:
        return self.proba.max(1)

    def accepted(self) -> np.ndarray:
        """Whether each prediction clears its class's inner-chosen threshold (otherwise: UNKNOWN)."""
        return self.confidence() >= self.thresholds[np.arange(len(self.proba)), self.proba.argmax(1)]


def nested_lodo(data: PixelExamples, sim: PixelExamples, config: PixelModelConfig, log: Log = print) -> NestedResult:
    """Each dataset predicted by a model whose every choice was made on the other datasets' inner folds."""
    proba = np.zeros((len(data.y), len(SEQUENCES)), np.float32)
    thresholds = np.ones((len(data.y), len(SEQUENCES)), np.float32)
    choices: dict[str, dict[str, Any]] = {}
    for name in sorted(set(data.groups)):
        test = data.groups == name
        inner = data.subset(~test)
        choice, threshold, _ = choose(inner, sim, config)
        proba[test] = _train_predict(inner, sim, data.X[test], choice, config)
        thresholds[test] = threshold
        choices[name] = {
            "feature_set": choice.feature_set,
            "simulation": choice.simulation,
            "classifier": choice.classifier,
            "thresholds": {c: float(t) for c, t in zip(SEQUENCES, threshold) if t <= 1},
        }
        log(f"pixel model outer fold {name}: {choice}")
    return NestedResult(proba, thresholds, choices)


def export_pixel_onnx(model, n_features: int, path: Path) -> None:
    """Write the pixel model as ONNX (:func:`radclass.training.forest.export_forest_onnx`: input ``features``,
    zipmap off; trees or the logistic pipeline alike)."""
    from radclass.training.forest import export_forest_onnx

    export_forest_onnx(model, n_features, path)


PIXEL_FILE = "pixel_signature.onnx"


def add_pixel_signature(
    folder: Path,
    config: PixelModelConfig | None = None,
    *,
    data: PixelExamples | None = None,
    sim: PixelExamples | None = None,
    log: Log = print,
) -> dict[str, Any]:
    """Train the pixel-signature model on the pool (or ``data``) and add it to the bundle in ``folder``.

    The feature set, classifier, use of simulation and the per-class thresholds are chosen on group folds of
    the training datasets (:func:`choose`), then the model is fitted on all of them and written as
    ``pixel_signature.onnx`` with its reading (:class:`radclass.models.bundle.PixelSignature`) in
    ``bundle.json``. Returns that ``pixel_signature_model`` table.
    """
    import json

    from radclass.models.bundle import META_NAME, write_bundle_json
    from radclass.training.pool import labelled_pool

    config = config or PixelModelConfig()
    config.validate()
    folder = Path(folder)
    meta = json.loads((folder / META_NAME).read_text())
    if data is None:
        data = pool_examples(labelled_pool(), config.slices, log)
    if sim is None:
        sim = simulated_examples(config.simulated_per_class, config.slices, config.seed)
    log(f"pixel signature: {len(data.y)} series from {len(set(data.groups))} datasets, {len(sim.y)} simulated")
    choice, thresholds, scores = choose(data, sim, config)
    cols = columns(choice.feature_set)
    model = fit_choice(data, sim, choice, config)
    export_pixel_onnx(model, len(cols), folder / PIXEL_FILE)
    accepted = {c: float(t) for c, t in zip(SEQUENCES, thresholds) if t <= 1.0}
    table: dict[str, Any] = {
        "features": list(FEATURE_SETS[choice.feature_set]),
        "classes": [str(c) for c in model.classes_],
        "thresholds": accepted,
        "slices": config.slices,
        "choice": {"feature_set": choice.feature_set, "simulation": choice.simulation, "classifier": choice.classifier},
        "inner_scores": scores,
        "trained_on": {"series": len(data.y), "datasets": len(set(data.groups)), "simulated": len(sim.y)},
    }
    write_bundle_json(folder, {**meta, "pixel_signature": PIXEL_FILE, "pixel_signature_model": table})
    log(f"pixel signature: {choice}, answers {sorted(accepted)} from pixels alone")
    return table
