"""Reading prediction and ground-truth tables and pairing their rows by path.

Predictions: ``path``, ``label`` and either ``probability`` (binary positive-class score) or ``p_<CLASS>``
columns; the ``radclass annotate`` output is accepted as is (``sequence`` = label, ``confidence`` and
``p_<CLASS>`` = scores, ``status`` skipped/error rows dropped and counted, sub-series of one folder reduced
to the row with most files). Truth: ``path``, ``label``, or the data pool's ``MANIFEST.csv``
(``relpath``/``sequence``, ``MASK:`` rows dropped). Rows are paired on the longest common path suffix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["Match", "Predictions", "match_paths", "path_parts", "read_predictions", "read_truth"]

SCORE_PREFIX = "p_"
_DROPPED_STATUS = ("skipped", "error")


@dataclass
class Predictions:
    """A prediction table reduced to one row per path, with what was removed on the way.

    ``table`` columns: ``path``, ``label``, optional ``confidence``, optional ``probability``,
    ``p_<CLASS>`` score columns (listed in ``score_classes``). ``dropped_status`` counts rows left out by
    ``status`` (``skipped``, ``error``) and rows without a label (``no label``).
    """

    table: pd.DataFrame
    score_classes: list[str]
    source: str = ""
    dropped_status: dict[str, int] = field(default_factory=dict)
    collapsed_sub_series: int = 0


def _read_csv(path: Path | str) -> pd.DataFrame:
    text_columns = {"path": str, "relpath": str, "label": str, "sequence": str}
    return pd.read_csv(path, dtype=text_columns, keep_default_na=False, na_values=[""])


def read_predictions(source: Path | str | pd.DataFrame) -> Predictions:
    """Read a prediction CSV (or DataFrame) into :class:`Predictions`; see the module docstring for formats."""
    df = source.copy() if isinstance(source, pd.DataFrame) else _read_csv(source)
    name = "" if isinstance(source, pd.DataFrame) else str(source)
    if "label" not in df.columns and "sequence" in df.columns:
        df = df.rename(columns={"sequence": "label"})
    missing = {"path", "label"} - set(df.columns)
    if missing:
        raise ValueError(
            f"{name or 'predictions'}: missing column(s) {sorted(missing)} (need path and label or sequence)"
        )
    dropped: dict[str, int] = {}
    if "status" in df.columns:
        status = df["status"].fillna("").astype(str).str.strip().str.lower()
        for value in _DROPPED_STATUS:
            dropped[value] = int((status == value).sum())
        df = df[~status.isin(_DROPPED_STATUS)]
    labelled = df["label"].notna() & (df["label"].astype(str).str.strip() != "")
    if not labelled.all():
        dropped["no label"] = int((~labelled).sum())
    df = df[labelled]
    score_cols = [c for c in df.columns if c.startswith(SCORE_PREFIX) and len(c) > len(SCORE_PREFIX)]
    if "confidence" not in df.columns and score_cols:
        df = df.assign(confidence=df[score_cols].max(axis=1))
    elif "confidence" not in df.columns and "probability" in df.columns:
        df = df.assign(confidence=np.maximum(df["probability"], 1 - df["probability"]))
    n_before = len(df)
    df = _one_row_per_path(df)
    keep = ["path", "label"] + [c for c in ("confidence", "probability") if c in df.columns] + score_cols
    table = df[keep].reset_index(drop=True)
    table["label"] = table["label"].astype(str).str.strip()
    return Predictions(table, [c[len(SCORE_PREFIX) :] for c in score_cols], name, dropped, n_before - len(table))


def _one_row_per_path(df: pd.DataFrame) -> pd.DataFrame:
    """Keep, per path, the row with the most files (``n_files``), ties broken by higher ``confidence``."""
    if not df["path"].duplicated().any():
        return df
    keys = [c for c in ("n_files", "confidence") if c in df.columns]
    ordered = df.sort_values(keys, ascending=False, kind="stable") if keys else df
    return ordered.drop_duplicates("path", keep="first").sort_index()


def read_truth(source: Path | str | pd.DataFrame) -> pd.DataFrame:
    """Read a truth table (``path``, ``label``) or ``MANIFEST.csv``; returns ``path``, ``label`` columns."""
    df = source.copy() if isinstance(source, pd.DataFrame) else _read_csv(source)
    if "path" not in df.columns and "relpath" in df.columns:
        if "series_description" in df.columns:
            df = df[~df["series_description"].fillna("").astype(str).str.startswith("MASK:")]
        df = df.rename(columns={"relpath": "path"})
    if "label" not in df.columns and "sequence" in df.columns:
        df = df.rename(columns={"sequence": "label"})
    missing = {"path", "label"} - set(df.columns)
    if missing:
        raise ValueError(f"truth: missing column(s) {sorted(missing)} (need path/relpath and label/sequence)")
    df = df[df["label"].notna()]
    out = df[["path", "label"]].astype(str).reset_index(drop=True)
    out["label"] = out["label"].str.strip()
    return out


def path_parts(path: str) -> tuple[str, ...]:
    """Components of a POSIX or Windows path, without empty parts, ``.`` or a trailing slash."""
    return tuple(p for p in re.split(r"[\\/]+", str(path).strip()) if p not in ("", "."))


@dataclass
class Match:
    """Row pairs (prediction index, truth index, suffix depth) and the rows left without a partner.

    ``ambiguous_pred``: prediction rows whose best suffix fits several truth rows equally well (or that lost a
    truth row to a prediction with a longer match); they are unmatched too.
    """

    pairs: pd.DataFrame
    unmatched_pred: list[int]
    unmatched_truth: list[int]
    ambiguous_pred: list[int]


def match_paths(pred_paths: list[str], truth_paths: list[str]) -> Match:
    """Pair each prediction path with the truth path sharing its longest common suffix of components.

    e.g. ``/x/shared/data/mri/dicom/ds/series1`` pairs with ``mri/dicom/ds/series1``. Pairing is one-to-one;
    a truth row wanted by several predictions goes to the deepest match, and ties are left unmatched.
    """
    by_suffix: dict[tuple[str, ...], list[int]] = {}
    for j, path in enumerate(truth_paths):
        parts = path_parts(path)
        for k in range(1, len(parts) + 1):
            by_suffix.setdefault(parts[-k:], []).append(j)
    best: dict[int, tuple[int, int]] = {}  # pred index -> (truth index, depth)
    ambiguous: set[int] = set()
    for i, path in enumerate(pred_paths):
        parts = path_parts(path)
        for k in range(len(parts), 0, -1):
            hits = by_suffix.get(parts[-k:])
            if hits:
                if len(set(hits)) == 1:
                    best[i] = (hits[0], k)
                else:
                    ambiguous.add(i)
                break
    claims: dict[int, list[tuple[int, int]]] = {}
    for i, (j, depth) in best.items():
        claims.setdefault(j, []).append((depth, i))
    rows = []
    for j, wanted in claims.items():
        wanted.sort(reverse=True)
        tied = len(wanted) > 1 and wanted[0][0] == wanted[1][0]
        if not tied:
            rows.append((wanted[0][1], j, wanted[0][0]))
        ambiguous.update(i for _, i in (wanted if tied else wanted[1:]))
    pairs = pd.DataFrame(sorted(rows), columns=["pred_index", "truth_index", "depth"])
    matched_pred, matched_truth = set(pairs["pred_index"]), set(pairs["truth_index"])
    return Match(
        pairs,
        [i for i in range(len(pred_paths)) if i not in matched_pred],
        [j for j in range(len(truth_paths)) if j not in matched_truth],
        sorted(ambiguous),
    )
