"""Per-series decisions from per-slice CNN and header-forest probabilities (pure functions).

* :func:`majority_vote` - the published rule: each image gets one CNN vote and one forest vote, the most
  frequent label wins (ties go to the higher mean probability).
* :func:`fuse` - probability-level fusion: a weighted log-linear pool of the CNN's mean slice probabilities
  and the forest's probabilities, each weight dropped to zero when its input is missing (no pixels / no
  informative header). It uses the models' confidence, which the vote throws away.
* :func:`decide` - abstention: UNKNOWN when the fused confidence is below a threshold chosen on validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from radclass.taxonomy import UNKNOWN

_EPS = 1e-4


def majority_vote(slice_proba: np.ndarray, forest_proba: np.ndarray | None) -> np.ndarray:
    """Vote shares over classes by the published rule (Kasmanoff et al.): every image casts one CNN vote and one
    forest vote (the forest reads the series header, so its vote is the same for each of the K images); the most
    frequent label wins, ties going to the higher mean probability."""
    n_classes = slice_proba.shape[1] if len(slice_proba) else len(forest_proba)  # type: ignore[arg-type]
    votes = np.zeros(n_classes, np.float32)
    for p in slice_proba:
        votes[int(np.argmax(p))] += 1
    if forest_proba is not None:
        votes[int(np.argmax(forest_proba))] += max(len(slice_proba), 1)
    # Tie-break by the mean probability, scaled below one vote.
    mean = np.mean(np.vstack([slice_proba] + ([forest_proba[None]] if forest_proba is not None else [])), axis=0)
    total = votes.sum() or 1.0
    return (votes + 0.01 * mean) / (total + 0.01)


def fuse(
    slice_proba: np.ndarray | None,
    forest_proba: np.ndarray | None,
    *,
    w_cnn: float = 1.0,
    w_forest: float = 1.0,
    temperature: float = 1.0,
) -> np.ndarray:
    """Weighted log-linear pool, renormalised.

    A missing input (None or empty) is left out; when only one input is present it is used alone (its weight
    then only sharpens or flattens it, so it is taken as 1).
    """
    cnn = None if slice_proba is None or len(slice_proba) == 0 else np.mean(slice_proba, 0)
    present = [(p, w) for p, w in ((cnn, w_cnn), (forest_proba, w_forest)) if p is not None]
    if not present:
        raise ValueError("nothing to fuse: neither slices nor a header")
    if len(present) == 1:
        present = [(present[0][0], 1.0)]
    logits = sum(w * np.log(np.asarray(p, np.float64) + _EPS) for p, w in present)
    logits = np.asarray(logits) / temperature
    p = np.exp(logits - logits.max())
    return (p / p.sum()).astype(np.float32)


@dataclass(frozen=True)
class Decision:
    label: str
    confidence: float
    top: str  # best class even when abstaining


def decide(proba: np.ndarray, classes: Sequence[str], threshold: float) -> Decision:
    """The most probable class, or UNKNOWN when its probability is below ``threshold``."""
    j = int(np.argmax(proba))
    conf = float(proba[j])
    return Decision(classes[j] if conf >= threshold else UNKNOWN, conf, classes[j])


def threshold_for_error_rate(confidence: np.ndarray, correct: np.ndarray, max_error: float) -> float:
    """Smallest threshold whose accepted predictions have an error rate <= ``max_error`` (validation)."""
    order = np.argsort(-confidence)
    conf, ok = confidence[order], correct[order].astype(float)
    errors = np.cumsum(1 - ok) / np.arange(1, len(ok) + 1)
    feasible = np.flatnonzero(errors <= max_error)
    if len(feasible) == 0:
        return 1.0
    return float(conf[feasible[-1]])


#: The support a pixel-evidence threshold needs: accepted validation series, and the groups (datasets) they come
#: from. The pixel-signature model's class thresholds and the bundle's pixel-only threshold use the same bar.
PIXEL_MIN_ACCEPTED = 8
PIXEL_MIN_GROUPS = 3


def class_thresholds(
    proba: np.ndarray,
    y: np.ndarray,
    classes: Sequence[str],
    max_error: float,
    min_accepted: int = 5,
    groups: np.ndarray | None = None,
    min_groups: int = 1,
) -> np.ndarray:
    """Per-class confidence thresholds from validation predictions: for each class, the smallest threshold at
    which the series *predicted* as that class are wrong at most ``max_error`` of the time, with at least
    ``min_accepted`` of them accepted, coming from at least ``min_groups`` distinct ``groups`` (datasets: a
    threshold that holds on one site only says little about the next); above 1 (never accepted) where no
    threshold achieves that.

    A class whose predictions are unreliable then abstains, while a class the evidence names well is kept: an
    overall threshold would trade one for the other.
    """
    pred = np.asarray(proba).argmax(1)
    conf = np.asarray(proba).max(1)
    truth = np.asarray(y, object)
    out = np.full(len(classes), 1.01, np.float32)
    for j, c in enumerate(classes):
        mine = pred == j
        if mine.sum() < min_accepted:
            continue
        order = np.argsort(-conf[mine])
        ok = (truth[mine] == c)[order].astype(float)
        errors = np.cumsum(1 - ok) / np.arange(1, len(ok) + 1)
        enough = np.arange(1, len(ok) + 1) >= min_accepted
        if groups is not None and min_groups > 1:
            seen = np.asarray(groups, object)[mine][order]
            enough &= np.array([len(set(seen[: i + 1])) >= min_groups for i in range(len(seen))])
        feasible = np.flatnonzero((errors <= max_error) & enough)
        if len(feasible):
            out[j] = float(conf[mine][order][feasible[-1]])
    return out
