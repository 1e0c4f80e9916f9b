"""radclass.training.split.outer_folds: each dataset answered by a choice made without it, in the examples' order."""

from __future__ import annotations

from radclass.training.split import outer_folds


def test_each_dataset_is_answered_by_a_choice_that_never_saw_it():
    examples = [("b", 1), ("a", 2), ("b", 3), ("c", 4)]
    seen: dict[str, set[str]] = {}

    def choose(held: str, train: list[tuple[str, int]]) -> int:
        seen[held] = {d for d, _ in train}
        return sum(v for _, v in train)  # the "choice": a sum over the other datasets

    answers, choices = outer_folds(examples, lambda e: e[0], choose, lambda c, e: (c, e[1]))
    assert list(choices) == ["a", "b", "c"] and all(held not in seen[held] for held in seen)
    assert answers == [(6, 1), (8, 2), (6, 3), (6, 4)]
