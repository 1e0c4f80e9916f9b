"""Group-wise splits: the held-out test groups no choice ever sees, and the cross-validation folds of the rest.

A group is a dataset, subject or site (:attr:`radclass.training.pool.LabelledSeries.dataset`); a split never
puts series of one group on both sides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

E = TypeVar("E")  # an example
C = TypeVar("C")  # a fold's choice
A = TypeVar("A")  # an answer


def held_out_groups(groups: np.ndarray, fraction: float, seed: int = 0, *, min_dev_groups: int = 2) -> list[str]:
    """Whole groups, drawn by ``seed``, holding at most about ``fraction`` of the series (at least one group).

    Returns no group when ``fraction`` is 0 or when holding one out would leave fewer than ``min_dev_groups``
    groups for the cross-validated choices.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"The test fraction must be in [0, 1); got {fraction}.")
    names, counts = np.unique(np.asarray(groups, dtype=str), return_counts=True)
    if fraction == 0 or len(names) < min_dev_groups + 1:
        return []
    order = np.random.default_rng(seed).permutation(len(names))
    target = fraction * counts.sum()
    chosen: list[str] = []
    total = 0
    for i in order:  # groups in seeded order, each taken when it still fits in the target share
        if len(names) - len(chosen) - 1 < min_dev_groups or total >= target:
            break
        if total + counts[i] <= target:
            chosen.append(str(names[i]))
            total += int(counts[i])
    if not chosen:  # every group is larger than the target share: the smallest one
        chosen = [str(names[int(np.argmin(counts))])]
    return sorted(chosen)


def group_folds(groups: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Fold index (0..k-1) of every row: whole groups shuffled by ``seed`` and dealt round-robin.

    With no more groups than ``k`` every group is its own fold (leave-one-group-out).
    """
    if k < 2:
        raise ValueError(f"Cross-validation needs at least 2 folds; got {k}.")
    groups = np.asarray(groups, dtype=str)
    names = np.unique(groups)
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of = {str(names[j]): i % k for i, j in enumerate(order)}
    return np.array([fold_of[g] for g in groups], dtype=int)


def outer_folds(
    examples: Sequence[E],
    dataset: Callable[[E], str],
    choose: Callable[[str, list[E]], C],
    apply: Callable[[C, E], A],
) -> tuple[list[A], dict[str, C]]:
    """The outer folds of a nested leave-one-dataset-out validation.

    For each dataset (in sorted order), ``choose(held_out, others)`` makes every choice on the examples of the
    other datasets (its own inner folds are its business), and ``apply(choice, example)`` answers each example of
    the held-out dataset with it. Returns the answers, in the order of ``examples``, and the choice of each
    held-out dataset.
    """
    answers: dict[int, A] = {}
    choices: dict[str, C] = {}
    for held in sorted({dataset(e) for e in examples}):
        choice = choose(held, [e for e in examples if dataset(e) != held])
        choices[held] = choice
        for i, e in enumerate(examples):
            if dataset(e) == held:
                answers[i] = apply(choice, e)
    return [answers[i] for i in range(len(examples))], choices
