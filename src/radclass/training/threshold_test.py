"""A two-class pixel test on one reading, with a band where it abstains, chosen nested leave-one-dataset-out.

The fluid test (T2 against FLAIR, :mod:`radclass.training.fluid_contrast`) and the grey/white test (T1 against
FLAIR, :mod:`radclass.training.grey_white`) are the same kind of test: one reading per volume, one class below a
threshold and the other above it, and a band around the threshold where the test says nothing. Chosen, all on
inner folds: the reading, its threshold (the best balanced accuracy, :attr:`ClassPair.high` above it) and the
half-width of the band (:func:`margin_for`: the narrowest at which at most ``max_error`` of the inner
out-of-fold answers are wrong). For each dataset held out (the outer fold), each reading is scored by
leave-one-dataset-out over the remaining datasets: threshold fitted without the inner dataset, distances of its
readings to that threshold, then the band from the pooled distances; the reading with the best pooled inner
balanced recall (an abstention is not right; ties: fewer wrong calls, then the order of the readings) is refitted
on all remaining datasets and applied once to the held-out one (:func:`nested_lodo`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from radclass.training.enhancement import fit_threshold
from radclass.training.model_card import share
from radclass.training.split import outer_folds

Log = Callable[[str], None]


class Example(Protocol):
    """What a test is chosen on: one volume's dataset (the fold unit), class and readings by name."""

    @property
    def dataset(self) -> str: ...

    @property
    def readings(self) -> Mapping[str, float]: ...


@dataclass(frozen=True)
class ClassPair:
    """The two classes of a test: ``low`` below its band, ``high`` from its top; ``max_error``: the share of the
    inner folds' answers that may be wrong when the band is chosen."""

    low: str
    high: str
    max_error: float = 0.0

    def __post_init__(self) -> None:
        if self.low == self.high:
            raise ValueError(f"A two-class test needs two classes, not {self.low!r} twice.")
        if not 0.0 <= self.max_error < 1.0:
            raise ValueError(f"max_error must lie in [0, 1), not {self.max_error}.")

    @property
    def classes(self) -> tuple[str, str]:
        return (self.low, self.high)


def calls(values: np.ndarray, bounds: tuple[float, float], pair: ClassPair) -> np.ndarray:
    """The test's answer per reading: ``pair.low`` below ``bounds[0]``, ``pair.high`` from ``bounds[1]``, ''
    between."""
    values = np.asarray(values, float)
    return np.where(values < bounds[0], pair.low, np.where(values >= bounds[1], pair.high, "")).astype(object)


def bounds_of(values: np.ndarray, truth: np.ndarray, pair: ClassPair, margin: float) -> tuple[float, float]:
    """(low_below, high_from): the threshold with the best balanced accuracy on the development readings
    (:func:`radclass.training.enhancement.fit_threshold`, ``pair.high`` above it), widened by ``margin`` on
    each side into a band where the test abstains."""
    values, high = np.asarray(values, float), np.asarray(truth, dtype=object) == pair.high
    if high.all() or not high.any():
        raise ValueError(f"The test needs {pair.high} and {pair.low} volumes to fit its bounds.")
    threshold = fit_threshold(values, high)
    return threshold - margin, threshold + margin


def margin_for(distance: np.ndarray, truth: np.ndarray, pair: ClassPair) -> float:
    """The narrowest band half-width at which at most ``pair.max_error`` of the answers are wrong, given each
    volume's out-of-fold reading minus its fold's threshold (``distance``; ``pair.high`` above 0) and its class."""
    wrong = np.where(np.asarray(truth, dtype=object) == pair.high, distance < 0, distance >= 0)
    for margin in [0.0, *sorted(np.abs(distance[wrong]) + 1e-6)]:
        answered = np.abs(distance) >= margin
        if not answered.any() or wrong[answered].mean() <= pair.max_error:
            return float(margin)
    return float(np.abs(distance).max() + 1e-6)


@dataclass(frozen=True)
class Choice:
    """A chosen reading, its band half-width and bounds, with the pooled inner-fold balanced recall and wrong
    calls it was chosen on."""

    measure: str
    margin: float
    bounds: tuple[float, float]
    inner_recall: float
    inner_wrong: int


def balanced_recall(truth: np.ndarray, answer: np.ndarray, pair: ClassPair) -> float:
    """The mean over the pair's classes present in ``truth`` of the share answered right ('' is not right)."""
    return float(np.mean([np.mean(answer[truth == c] == c) for c in pair.classes if (truth == c).any()]))


def choose(examples: Sequence[Example], truth: Sequence[str], pair: ClassPair, measures: Sequence[str]) -> Choice:
    """The reading (of ``measures``) and band with the best pooled balanced recall over leave-one-dataset-out
    folds of ``examples`` of classes ``truth`` (module docstring), its bounds refitted on all of them."""
    datasets = np.array([e.dataset for e in examples])
    truth_a = np.array(truth, dtype=object)
    best: Choice | None = None
    for name in measures:
        x = np.array([e.readings[name] for e in examples])
        distance = np.full(len(x), np.nan)
        for d in np.unique(datasets):
            inner = datasets != d
            if len(set(truth_a[inner])) == 2:  # else the dataset's volumes stay unanswered
                distance[~inner] = x[~inner] - fit_threshold(x[inner], truth_a[inner] == pair.high)
        scored = ~np.isnan(distance)
        margin = margin_for(distance[scored], truth_a[scored], pair)
        answer = np.full(len(x), "", dtype=object)
        answer[scored] = calls(distance[scored], (-margin, margin), pair)
        recall = balanced_recall(truth_a, answer, pair)
        wrong = int(((answer != "") & (answer != truth_a)).sum())
        if best is None or (recall, -wrong) > (best.inner_recall, -best.inner_wrong):
            best = Choice(name, margin, bounds_of(x, truth_a, pair, margin), recall, wrong)
    if best is None:
        raise ValueError(f"No examples to choose a {pair.low}/{pair.high} test on.")
    return best


@dataclass
class NestedResult:
    """Outer-fold answers of :func:`nested_lodo` ('' where the test abstained) and the choice of each fold."""

    answer: np.ndarray
    choices: dict[str, Choice]


def nested_lodo(
    examples: Sequence[Example], truth: Sequence[str], pair: ClassPair, measures: Sequence[str]
) -> NestedResult:
    """Outer leave-one-dataset-out, every choice on inner folds of the other datasets (module docstring)."""
    label = dict(zip(map(id, examples), truth))

    def fold_choice(held: str, train: list[Example]) -> Choice:
        labels = [label[id(e)] for e in train]
        if len(set(labels)) < 2:
            raise ValueError(
                f"Without {held}, the development set lacks {pair.low} or {pair.high} volumes: no test can be fitted."
            )
        return choose(train, labels, pair, measures)

    answers, choices = outer_folds(
        list(examples),
        lambda e: e.dataset,
        fold_choice,
        lambda c, e: calls(np.array([e.readings[c.measure]]), c.bounds, pair)[0],
    )
    return NestedResult(np.array(answers, dtype=object), choices)


def figures(truth: Sequence[str], answer: np.ndarray, pair: ClassPair) -> dict[str, Any]:
    """Per class: answered and right with 95% Clopper-Pearson intervals; overall precision of the answers."""
    truth_a = np.asarray(truth, dtype=object)
    given = answer != ""
    right = given & (answer == truth_a)
    out: dict[str, Any] = {"volumes": len(truth_a), "answered": share(given.sum(), len(truth_a))}
    out["precision"] = share(right.sum(), given.sum())
    for c in pair.classes:
        mine = truth_a == c
        out[c] = {"answered": share(given[mine].sum(), mine.sum()), "right": share(right[mine].sum(), mine.sum())}
    return out
