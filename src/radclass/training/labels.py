"""Training labels from a user's archive: read LABELS.csv files and join them to a scan of the series they name.

A labels table names each series by ``path`` and/or ``series_uid`` (plus ``sub_series`` when a UID was split)
and gives its ``sequence``; ``orientation``, ``contrast`` and ``group`` (the subject/site the held-out and
cross-validation splits keep whole) are optional. It is exactly what ``radclass rules ... --out`` and
``radclass review --export`` write. Several tables may be given: a later table's non-empty fields override an
earlier one's for the same series (review corrections over rule labels).

With a class scheme other than the default (``--scheme kasmanoff25``, :mod:`radclass.rules.scheme`) the
``sequence`` labels are checked against the scheme's classes and trained as the default classes they map onto.

Nothing is dropped silently: every row that does not become a training series is listed in
:attr:`LabelledSet.excluded` with the reason (no such series in the scan, a label outside the vocabulary, no
label at all).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from radclass.io.series import Series
from radclass.rules import ClassScheme
from radclass.taxonomy import CONTRASTS, ORIENTATIONS, SEQUENCES
from radclass.training.pool import Excluded, LabelledSeries, LabelledSet

#: Columns a labels table may carry (others, e.g. ``rule`` or ``series_description``, are ignored).
LABEL_COLUMNS = ("path", "series_uid", "sub_series", "sequence", "orientation", "contrast", "group")


class LabelsError(ValueError):
    """A labels table cannot be read (missing file, no identifying column, no sequence column)."""


@dataclass
class _Row:
    source: str
    path: str = ""
    series_uid: str = ""
    sub_series: str = ""
    sequence: str = ""
    orientation: str = ""
    contrast: str = ""
    group: str = ""

    @property
    def name(self) -> str:
        return self.path or self.series_uid


def read_label_rows(paths: Sequence[Path]) -> list[_Row]:
    """The rows of the labels tables, one per series, later tables overriding earlier ones' non-empty fields."""
    merged: dict[tuple[str, str, str], _Row] = {}
    for table in paths:
        table = Path(table)
        if not table.is_file():
            raise LabelsError(f"The labels table {table} does not exist.")
        with table.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            cols = set(reader.fieldnames or ())
            if "sequence" not in cols or not cols & {"path", "series_uid"}:
                raise LabelsError(
                    f"The labels table {table} needs a 'sequence' column and a 'path' or "
                    f"'series_uid' column; it has {sorted(cols)}."
                )
            for line, raw in enumerate(reader, start=2):
                row = _Row(f"{table}:{line}", **{c: (raw.get(c) or "").strip() for c in LABEL_COLUMNS})
                if row.path:
                    row.path = _norm(row.path)
                key = (row.path, row.series_uid, row.sub_series)
                old = _match_existing(merged, key)
                if old is None:
                    merged[key] = row
                    continue
                for c in LABEL_COLUMNS:
                    if getattr(row, c):
                        setattr(old, c, getattr(row, c))
                old.source = row.source
    return list(merged.values())


def _match_existing(merged: dict[tuple[str, str, str], _Row], key: tuple[str, str, str]) -> _Row | None:
    """The earlier row naming the same series: same key, or same UID/sub-series where one row lacks a path."""
    if key in merged:
        return merged[key]
    path, uid, sub = key
    for (p, u, s), row in merged.items():
        if uid and u == uid and s == sub and (not p or not path):
            return row
        if path and p == path and (not u or not uid) and s == sub:
            return row
    return None


def _norm(path: str) -> str:
    return os.path.realpath(os.path.expanduser(path))


def labelled_from_tables(
    tables: Sequence[Path], scan_roots: Sequence[Path] = (), scheme: ClassScheme | None = None
) -> LabelledSet:
    """Join the labels tables to a scan of ``scan_roots`` (default: the paths the tables name).

    With a ``scheme`` other than the default, the ``sequence`` labels must be classes of that scheme; each
    series is trained as the default class its label maps onto (:meth:`ClassScheme.to_default`).

    Each row is matched to a scanned series by path (and sub-series / UID where a path holds several), or by
    ``series_uid`` alone. The group of a series is the row's ``group``, else the PatientID or StudyInstanceUID
    of its header, else its parent folder.
    """
    from radclass.pipeline.scan import scan

    rows = read_label_rows(tables)
    roots = [Path(r) for r in scan_roots] or _roots_of(rows)
    if not roots:
        raise LabelsError("No series to scan: the labels tables name no paths; give the folders to scan (--data).")
    result = scan(roots, workers=1)
    by_path: dict[str, list[Series]] = {}
    by_uid: dict[str, list[Series]] = {}
    for s in result.series:
        by_path.setdefault(_norm(s.path), []).append(s)
        by_uid.setdefault(s.series_uid, []).append(s)
    items: list[LabelledSeries] = []
    excluded: list[Excluded] = []
    seen: set[tuple[str, str]] = set()
    for row in rows:
        problem = _vocabulary_problem(row, scheme)
        if problem:
            excluded.append(Excluded(row.source, row.name, problem))
            continue
        found = _find(row, by_path, by_uid)
        if isinstance(found, str):
            excluded.append(Excluded(row.source, row.name, found))
            continue
        ident = (found.path, found.key)
        if ident in seen:
            excluded.append(Excluded(row.source, row.name, "names a series another row already labelled"))
            continue
        seen.add(ident)
        items.append(
            LabelledSeries(
                found,
                scheme.to_default(row.sequence) if scheme is not None else row.sequence,
                row.orientation or "",
                row.contrast or "",
                row.group or _default_group(found),
                pixels_usable=True,
            )
        )
    return LabelledSet(items, ", ".join(str(t) for t in tables), excluded)


def _roots_of(rows: list[_Row]) -> list[Path]:
    """The distinct paths the rows name, nested ones folded into their ancestor."""
    paths = sorted({r.path for r in rows if r.path})
    roots: list[str] = []
    for p in paths:
        if not roots or not (p == roots[-1] or p.startswith(roots[-1].rstrip(os.sep) + os.sep)):
            roots.append(p)
    return [Path(p) for p in roots if os.path.exists(p)]


def _vocabulary_problem(row: _Row, scheme: ClassScheme | None = None) -> str:
    if not row.sequence:
        return "no sequence label (e.g. no rule matched): label it on the review page or in the table"
    if scheme is not None and row.sequence not in scheme.names:
        return f"sequence {row.sequence!r} is not a class of the scheme {scheme.name} ({', '.join(scheme.names)})"
    if scheme is None and row.sequence not in SEQUENCES:
        return f"sequence {row.sequence!r} is not a class of the taxonomy ({', '.join(SEQUENCES)})"
    if row.orientation and row.orientation not in (*ORIENTATIONS, "NA"):
        return f"orientation {row.orientation!r} is not one of {', '.join(ORIENTATIONS)}"
    if row.contrast and row.contrast not in CONTRASTS:
        return f"contrast {row.contrast!r} is not one of {', '.join(CONTRASTS)}"
    return ""


def _find(row: _Row, by_path: dict[str, list[Series]], by_uid: dict[str, list[Series]]) -> Series | str:
    """The one scanned series the row names, or the reason there is none."""
    candidates = by_path.get(row.path, []) if row.path else by_uid.get(row.series_uid, [])
    if row.path and not candidates:
        return f"no series found at {row.path}" + ("" if os.path.exists(row.path) else " (the path does not exist)")
    if not candidates:
        return f"no scanned series has SeriesInstanceUID {row.series_uid}"
    if row.series_uid:
        candidates = [s for s in candidates if s.series_uid == row.series_uid] or candidates
    if len(candidates) > 1:
        candidates = [s for s in candidates if s.sub_series == row.sub_series] or candidates
    if len(candidates) > 1:
        return (
            f"{len(candidates)} series match ({', '.join(s.key for s in candidates[:4])}); give series_uid "
            "and sub_series"
        )
    return candidates[0]


def _default_group(s: Series) -> str:
    h = s.header
    for key in ("patient_id", "study_uid"):
        if h.get(key):
            return str(h[key])
    return os.path.basename(os.path.dirname(s.path.rstrip(os.sep))) or s.path
