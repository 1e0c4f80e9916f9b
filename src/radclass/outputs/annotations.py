"""The ``radclass annotate`` table: its columns, and the row of one series' :class:`Annotation`.

This is the output edge of a decision: enum members become their strings, the flags are ``;``-joined
(:func:`radclass.taxonomy.join_flags`), probabilities are rounded to 4 decimals and become ``p_<CLASS>`` columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from radclass.anatomy.gate import ANATOMY_COLUMNS, anatomy_columns
from radclass.anatomy.vocabulary import AnatomyDecision
from radclass.io.series import SCAN_COLUMNS
from radclass.models.decision import Annotation
from radclass.taxonomy import bids_suffix, join_flags

#: The decision's columns, placed before the scan's ``format`` column.
ANNOTATION_COLUMNS = [
    "sequence",
    "orientation",
    "contrast",
    "confidence",
    "bids_suffix",
    "model_version",
    "cnn_sequence",
    "forest_sequence",
    "vote_sequence",
    "rule_sequence",
    "orientation_source",
    *ANATOMY_COLUMNS,
]


def annotation_columns(classes: Sequence[str]) -> list[str]:
    """The columns of an annotation table for a bundle with sequence ``classes``, in output order."""
    cols = [c for c in SCAN_COLUMNS if c not in ANNOTATION_COLUMNS]
    i = cols.index("format")
    return cols[:i] + ANNOTATION_COLUMNS + cols[i:] + [f"p_{c}" for c in classes]


def annotation_row(
    scan_row: Mapping[str, Any],
    annotation: Annotation,
    model_version: str,
    anatomy: AnatomyDecision | None = None,
) -> dict[str, Any]:
    """The annotation table row of one series.

    Parameters
    ----------
    scan_row
        The series' scan row (:meth:`radclass.io.series.Series.row`).
    annotation
        The decision policy's annotation of the series (:func:`radclass.models.decision.decide_series`).
    model_version
        The bundle's version (:attr:`radclass.models.bundle.ModelBundle.version`).
    anatomy
        The anatomy gate's decision, for an MR series (None: no anatomy columns).

    Returns
    -------
    dict
        ``scan_row`` with the decision's columns; the model-opinion columns only for a series the models
        decided on.
    """
    a = annotation
    sequence = "" if a.sequence is None else str(a.sequence)
    row = dict(scan_row)
    row.update(
        status=str(a.status),
        reason=a.reason,
        flags=join_flags(a.flags),
        sequence=sequence,
        orientation=str(a.plane),
        contrast=str(a.contrast),
        confidence=None if a.confidence is None else round(a.confidence, 4),
        bids_suffix=bids_suffix(sequence),
        model_version=model_version,
    )
    if a.plane_source is not None:
        row["orientation_source"] = str(a.plane_source)
    if a.opinions is not None:
        row.update(cnn_sequence=a.opinions.cnn_sequence, forest_sequence=a.opinions.forest_sequence)
        if a.opinions.vote_sequence is not None:
            row["vote_sequence"] = a.opinions.vote_sequence
        if a.opinions.rule_sequence is not None:
            row["rule_sequence"] = a.opinions.rule_sequence
        row.update({f"p_{c}": round(p, 4) for c, p in a.opinions.proba})
    if anatomy is not None:
        row.update(anatomy_columns(anatomy))
    return row
