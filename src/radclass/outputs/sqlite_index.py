"""SQLite index of annotated series, skipped files and reviewers' corrections.

One database file holds three tables:

``series``
    one row per series, keyed by ``series_key`` (the SeriesInstanceUID, plus ``#<sub_series>`` when the
    annotation pipeline split a UID). Every column of an annotation table is stored; columns the table does
    not know yet (``p_<CLASS>`` probabilities, ``gradcam_png``...) are added on the fly. ``id`` is a stable
    integer used by the review page; ``created_at`` / ``updated_at`` are UTC ISO timestamps.
``skipped``
    one row per file the pipeline skipped or failed on (no SeriesInstanceUID), keyed by its ``path``.
``corrections``
    append-only audit log of reviews: ``series_key, field, old, new, reviewer, time, comment``. A row with
    ``old == new`` records that a reviewer accepted the label in force. The current label of a field is the
    ``new`` of its latest row, else the prediction.
``review_state``
    derived from ``corrections`` by a trigger, one row per reviewed series: the latest ``new`` per field,
    the id of the latest audit row and whether any label changed. It lets the review page filter and sort
    10,000 series without re-reading the log; an index written before it existed is filled from the log once.

Upserts are idempotent: annotating the same input twice leaves the same rows, only ``updated_at`` moves.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radclass.io.series import series_key
from radclass.taxonomy import CONTRASTS, DEFAULT_CONTRAST, ORIENTATIONS, SEQUENCES, Plane
from radclass.values import is_missing

SERIES_TABLE = "series"
SKIPPED_TABLE = "skipped"
CORRECTIONS_TABLE = "corrections"
REVIEW_STATE_TABLE = "review_state"

#: Columns of the annotation contract, in display order (``p_<CLASS>`` and extras follow).
CORE_COLUMNS: tuple[str, ...] = (
    "path",
    "series_uid",
    "sub_series",
    "n_files",
    "modality",
    "manufacturer",
    "series_description",
    "sequence",
    "orientation",
    "contrast",
    "confidence",
    "status",
    "reason",
    "flags",
    "bids_suffix",
    "model_version",
    "study_uid",
    "files",
)
_NUMERIC = {"n_files": "INTEGER", "confidence": "REAL"}
_BOOKKEEPING = ("id", "series_key", "created_at", "updated_at")

#: Fields a reviewer may correct and the values each accepts.
CORRECTABLE: dict[str, tuple[str, ...]] = {
    "sequence": SEQUENCES,
    "orientation": tuple(Plane),  # MIXED and NA (no acquisition plane: 2D images, template space) included
    "contrast": CONTRASTS,
}
#: Columns of ``radclass review --export``: the training-label CSV ``radclass train --labels`` reads.
EXPORT_COLUMNS: tuple[str, ...] = ("path", "series_uid", "sub_series", "sequence", "orientation", "contrast", "group")
#: Series columns that get an SQL index (the review page filters and sorts on them).
INDEXED_COLUMNS: tuple[str, ...] = ("status", "sequence", "manufacturer", "study_uid", "confidence")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column_type(name: str) -> str:
    if name in _NUMERIC:
        return _NUMERIC[name]
    return "REAL" if name.startswith("p_") else ""


def _sql_value(value: Any) -> Any:
    """A pandas/numpy cell as something sqlite3 stores (None/NaN/NA -> NULL; '' stays '')."""
    if not isinstance(value, str) and is_missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()  # numpy scalar -> Python
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return ";".join(str(v) for v in (value.ravel().tolist() if isinstance(value, np.ndarray) else value))
    if isinstance(value, (str, int, float, bytes)):
        return value
    return str(value)


@contextmanager
def connect(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Open (and create) the index; commits on success, rolls back on error, always closes."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(db_path, timeout=30)
    con.row_factory = sqlite3.Row
    try:
        con.execute("PRAGMA journal_mode=WAL")
        _create_tables(con)
        yield con
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.close()


def _create_tables(con: sqlite3.Connection) -> None:
    core = ", ".join(f"{_quote(c)} {_column_type(c)}".strip() for c in CORE_COLUMNS)
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {SERIES_TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        f"series_key TEXT NOT NULL UNIQUE, {core}, created_at TEXT, updated_at TEXT)"
    )
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {SKIPPED_TABLE} (path TEXT PRIMARY KEY, status TEXT, reason TEXT, "
        "flags TEXT, model_version TEXT, created_at TEXT, updated_at TEXT)"
    )
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {CORRECTIONS_TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "series_key TEXT NOT NULL, field TEXT NOT NULL, old TEXT, new TEXT NOT NULL, "
        "reviewer TEXT NOT NULL, time TEXT NOT NULL, comment TEXT)"
    )
    con.execute(f"CREATE INDEX IF NOT EXISTS corrections_key ON {CORRECTIONS_TABLE}(series_key)")
    _ensure_columns(con, CORRECTIONS_TABLE, ["comment"])  # indexes written before comments existed
    con.execute(f"CREATE INDEX IF NOT EXISTS corrections_latest ON {CORRECTIONS_TABLE}(series_key, field, id)")
    for name in INDEXED_COLUMNS:
        con.execute(f"CREATE INDEX IF NOT EXISTS {_quote('series_' + name)} ON {SERIES_TABLE}({_quote(name)})")
    if con.execute("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?", (_STATE_TRIGGER,)).fetchone():
        return
    if con.in_transaction:
        con.commit()
    con.execute("BEGIN IMMEDIATE")  # table, trigger and the fill from the log together, once per index
    if not con.execute("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?", (_STATE_TRIGGER,)).fetchone():
        _create_review_state(con)
    con.commit()


_STATE_TRIGGER = "corrections_review_state"


def _create_review_state(con: sqlite3.Connection) -> None:
    """The ``review_state`` table, the trigger keeping it, and its content from the existing log."""
    fields = list(CORRECTABLE)
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {REVIEW_STATE_TABLE} (series_key TEXT PRIMARY KEY, "
        + "".join(f"c_{f} TEXT, " for f in fields)
        + "last_id INTEGER NOT NULL, corrected INTEGER NOT NULL)"
    )
    values = ", ".join(f"CASE WHEN NEW.field = '{f}' THEN NEW.new END" for f in fields)
    keep = ", ".join(f"c_{f} = COALESCE(excluded.c_{f}, c_{f})" for f in fields)
    con.execute(
        f"CREATE TRIGGER {_STATE_TRIGGER} AFTER INSERT ON {CORRECTIONS_TABLE} BEGIN "
        f"INSERT INTO {REVIEW_STATE_TABLE} (series_key, {', '.join(f'c_{f}' for f in fields)}, last_id, corrected) "
        f"VALUES (NEW.series_key, {values}, NEW.id, NEW.old IS NOT NEW.new) "
        f"ON CONFLICT(series_key) DO UPDATE SET {keep}, last_id = excluded.last_id, "
        f"corrected = corrected OR excluded.corrected; END"
    )
    pivot = ", ".join(f"MAX(CASE WHEN field = '{f}' THEN new END)" for f in fields)
    con.execute(f"DELETE FROM {REVIEW_STATE_TABLE}")
    con.execute(
        f"INSERT INTO {REVIEW_STATE_TABLE} (series_key, {', '.join(f'c_{f}' for f in fields)}, last_id, corrected) "
        f"SELECT series_key, {pivot}, MAX(cid), series_key IN "
        f"(SELECT series_key FROM {CORRECTIONS_TABLE} WHERE old IS NOT new) "
        f"FROM (SELECT series_key, field, new, MAX(id) AS cid FROM {CORRECTIONS_TABLE} GROUP BY series_key, field) "
        f"GROUP BY series_key"
    )


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in con.execute(f"PRAGMA table_info({_quote(table)})")]


def _ensure_columns(con: sqlite3.Connection, table: str, names: list[str]) -> None:
    present = set(_columns(con, table))
    for name in names:
        if name not in present:
            con.execute(f"ALTER TABLE {_quote(table)} ADD COLUMN {_quote(name)} {_column_type(name)}".strip())


def _is_skipped(row: Mapping[str, Any]) -> bool:
    """A skipped *file* has no SeriesInstanceUID; a skipped series (e.g. not MR) keeps its series row."""
    return not series_key(row.get("series_uid"))


def upsert_series(db_path: Path, df: pd.DataFrame) -> int:
    """Insert or update the rows of an annotation table; return the number of rows written.

    Rows with a SeriesInstanceUID go to ``series`` keyed by :func:`series_key` (whatever their status,
    ``skipped`` non-MR series included); rows without one (skipped or unreadable files) go to ``skipped``
    keyed by ``path``. Unknown columns are added to ``series``.
    """
    records = [{k: _sql_value(v) for k, v in rec.items()} for rec in df.to_dict(orient="records")]
    now = _now()
    written = 0
    with connect(db_path) as con:
        extra = [c for c in df.columns if c not in _BOOKKEEPING]
        _ensure_columns(con, SERIES_TABLE, [str(c) for c in extra])
        for rec in records:
            if _is_skipped(rec):
                _upsert_skipped(con, rec, now)
            else:
                _upsert_one_series(con, rec, now)
            written += 1
    return written


def _upsert_one_series(con: sqlite3.Connection, rec: dict[str, Any], now: str) -> None:
    values = {k: v for k, v in rec.items() if k not in _BOOKKEEPING}
    values["series_key"] = series_key(rec.get("series_uid"), rec.get("sub_series"))
    names = list(values)
    cols = ", ".join(_quote(n) for n in names)
    marks = ", ".join("?" for _ in names)
    updates = ", ".join(f"{_quote(n)}=excluded.{_quote(n)}" for n in names if n != "series_key")
    con.execute(
        f"INSERT INTO {SERIES_TABLE} ({cols}, created_at, updated_at) VALUES ({marks}, ?, ?) "
        f"ON CONFLICT(series_key) DO UPDATE SET {updates}, updated_at=excluded.updated_at",
        [values[n] for n in names] + [now, now],
    )


def _upsert_skipped(con: sqlite3.Connection, rec: dict[str, Any], now: str) -> None:
    con.execute(
        f"INSERT INTO {SKIPPED_TABLE} (path, status, reason, flags, model_version, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET status=excluded.status, "
        "reason=excluded.reason, flags=excluded.flags, model_version=excluded.model_version, "
        "updated_at=excluded.updated_at",
        [
            str(rec.get("path") or ""),
            rec.get("status"),
            rec.get("reason"),
            rec.get("flags"),
            rec.get("model_version"),
            now,
            now,
        ],
    )


def read_series(db_path: Path) -> pd.DataFrame:
    """All series rows (every stored column), ordered by ``id``."""
    return _read_table(db_path, SERIES_TABLE, "id")


def read_skipped(db_path: Path) -> pd.DataFrame:
    """All skipped-file rows, ordered by ``path``."""
    return _read_table(db_path, SKIPPED_TABLE, "path")


def read_corrections(db_path: Path) -> pd.DataFrame:
    """The corrections log, oldest first."""
    return _read_table(db_path, CORRECTIONS_TABLE, "id")


def _read_table(db_path: Path, table: str, order: str) -> pd.DataFrame:
    with connect(db_path) as con:
        cur = con.execute(f"SELECT * FROM {table} ORDER BY {order}")
        names = [d[0] for d in cur.description]
        return pd.DataFrame([tuple(r) for r in cur.fetchall()], columns=names)


def get_series(db_path: Path, series_id: int) -> dict[str, Any] | None:
    """One series row by its integer ``id`` (as the review page addresses it), or None."""
    with connect(db_path) as con:
        row = con.execute(f"SELECT * FROM {SERIES_TABLE} WHERE id = ?", (int(series_id),)).fetchone()
        return dict(row) if row is not None else None


def current_labels(db_path: Path) -> dict[str, dict[str, dict[str, str]]]:
    """Latest correction per series and field: ``{series_key: {field: {new, reviewer, time}}}``."""
    latest: dict[str, dict[str, dict[str, str]]] = {}
    with connect(db_path) as con:
        for row in con.execute(f"SELECT * FROM {CORRECTIONS_TABLE} ORDER BY id"):
            latest.setdefault(row["series_key"], {})[row["field"]] = {
                "new": row["new"],
                "reviewer": row["reviewer"],
                "time": row["time"],
            }
    return latest


class ReviewConflict(Exception):
    """Another reviewer changed a label since the reviewer saving saw it; nothing was stored."""

    def __init__(self, series_key: str, field: str, expected: str | None, current: str | None) -> None:
        super().__init__(
            f"{field} of series {series_key} is now {current!r} (you saw {expected!r}): another "
            "reviewer saved in the meantime; look at it again and save once more"
        )
        self.series_key, self.field, self.expected, self.current = series_key, field, expected, current


def add_correction(
    db_path: Path,
    series_key: str,
    field: str,
    new: str,
    reviewer: str,
    *,
    time: str | None = None,
    comment: str = "",
) -> dict[str, Any]:
    """Record that ``reviewer`` set ``field`` of a series to ``new``; return the stored correction.

    ``old`` is the value in force before: the latest correction of that field, else the prediction.
    Raises KeyError for an unknown series and ValueError for a bad field, value or empty reviewer.
    """
    return save_review(db_path, series_key, {field: new}, reviewer, time=time, comment=comment, record_unchanged=True)[
        0
    ]


def save_review(
    db_path: Path,
    series_key: str,
    labels: Mapping[str, str],
    reviewer: str,
    *,
    comment: str = "",
    expected: Mapping[str, str | None] | None = None,
    time: str | None = None,
    record_unchanged: bool = False,
) -> list[dict[str, Any]]:
    """Store one reviewer's labels for one series atomically; return the audit rows written.

    A field whose value differs from the one in force gets a correction row (``old -> new``). With
    ``record_unchanged`` a field already at that value gets an acceptance row (``old == new``). ``expected``
    maps fields to the values the reviewer saw: if another reviewer changed one since, :class:`ReviewConflict`
    is raised and nothing is stored. The check and the writes share one ``BEGIN IMMEDIATE`` transaction, so
    concurrent reviewers on one index never interleave between them.

    Raises
    ------
    KeyError
        ``series_key`` is not in the index.
    ValueError
        An unknown field, a value outside :data:`CORRECTABLE`, or an empty reviewer name.
    ReviewConflict
        ``expected`` no longer holds.
    """
    for field, new in labels.items():
        if field not in CORRECTABLE:
            raise ValueError(f"field must be one of {sorted(CORRECTABLE)}, not {field!r}")
        if new not in CORRECTABLE[field]:
            raise ValueError(f"{field} must be one of {CORRECTABLE[field]}, not {new!r}")
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise ValueError("a correction needs a reviewer name")
    comment = (comment or "").strip()
    time = time or _now()
    stored: list[dict[str, Any]] = []
    with connect(db_path) as con:
        if con.in_transaction:
            con.commit()
        con.execute("BEGIN IMMEDIATE")  # read the labels in force and append, with no writer in between
        row = con.execute(f"SELECT * FROM {SERIES_TABLE} WHERE series_key = ?", (series_key,)).fetchone()
        if row is None:
            raise KeyError(series_key)
        in_force = {}
        for field in CORRECTABLE:
            last = con.execute(
                f"SELECT new FROM {CORRECTIONS_TABLE} WHERE series_key = ? AND field = ? ORDER BY id DESC LIMIT 1",
                (series_key, field),
            ).fetchone()
            in_force[field] = last["new"] if last is not None else row[field]
        for field, seen in (expected or {}).items():
            if field in CORRECTABLE and seen != in_force[field]:
                raise ReviewConflict(series_key, field, seen, in_force[field])
        for field, new in labels.items():
            old = in_force[field]
            if old == new and not record_unchanged:
                continue
            con.execute(
                f"INSERT INTO {CORRECTIONS_TABLE} (series_key, field, old, new, reviewer, time, comment) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (series_key, field, old, new, reviewer, time, comment),
            )
            stored.append(
                {
                    "series_key": series_key,
                    "field": field,
                    "old": old,
                    "new": new,
                    "reviewer": reviewer,
                    "time": time,
                    "comment": comment,
                }
            )
    return stored


# --- The review page's work list: filters, sort and pages in SQL ----------------------------------------

#: Review states a work list can be narrowed to.
REVIEW_STATES = ("all", "reviewed", "remaining", "corrected")

#: Sortable columns of :func:`query_series` (name -> SQL expression over the work-list query).
SORTABLE: dict[str, str] = {
    "id": "id",
    "series_description": "series_description",
    "modality": "modality",
    "manufacturer": "manufacturer",
    "n_files": "n_files",
    "predicted": "sequence",
    "sequence": "cur_sequence",
    "orientation": "cur_orientation",
    "contrast": "cur_contrast",
    "confidence": "confidence",
    "status": "status",
    "flags": "flags",
    "study_uid": "study_uid",
    "reviewed": "reviewed",
    "path": "path",
}
#: Columns a work list can be grouped by (one group header per value, the rows of a group together).
GROUPABLE: dict[str, str] = {"study": "study_uid", "patient": "patient_id"}


#: Series columns the work list filters and sorts on (the first, narrow pass of :func:`query_series`).
_WORK_COLUMNS = (
    "id",
    "series_key",
    "path",
    "modality",
    "manufacturer",
    "series_description",
    "n_files",
    "sequence",
    "confidence",
    "status",
    "flags",
    "study_uid",
)


def _work_list_sql(con: sqlite3.Connection, columns: tuple[str, ...] | None = None) -> str:
    """SELECT of every series (``columns`` of it, default all) with its current labels (``cur_<field>``),
    review state (``reviewed``, ``corrected``) and latest reviewer (``last_reviewer``, ``last_time``): a
    series is reviewed once it has an audit row, corrected once a label changed."""
    if columns is None:
        chosen = "s.*"
    else:
        present = set(_columns(con, SERIES_TABLE))
        chosen = ", ".join(f"s.{_quote(c)}" for c in columns if c in present)
    current = ", ".join(f"COALESCE(r.c_{f}, s.{_quote(f)}) AS cur_{f}" for f in CORRECTABLE)
    return (
        f"SELECT {chosen}, {current}, (r.last_id IS NOT NULL) AS reviewed, COALESCE(r.corrected, 0) AS corrected, "
        f"lc.reviewer AS last_reviewer, lc.time AS last_time "
        f"FROM {SERIES_TABLE} s LEFT JOIN {REVIEW_STATE_TABLE} r ON r.series_key = s.series_key "
        f"LEFT JOIN {CORRECTIONS_TABLE} lc ON lc.id = r.last_id"
    )


@dataclass(frozen=True)
class SeriesQuery:
    """Filters of the review work list; ``None`` / empty means "any".

    Parameters
    ----------
    review
        One of :data:`REVIEW_STATES`.
    status
        Pipeline status (``ok``, ``unknown``, ``skipped``...), exact.
    flag
        One flag the series must carry (``flags`` is a ``;``-separated list).
    predicted, label
        Predicted sequence (the model's) or current sequence (after corrections), exact.
    confidence_min, confidence_max
        Inclusive confidence range.
    manufacturer, study_uid
        Exact vendor (Manufacturer) or StudyInstanceUID.
    text
        Substring of the series description, key or path (case-insensitive).
    """

    review: str = "all"
    status: str | None = None
    flag: str | None = None
    predicted: str | None = None
    label: str | None = None
    confidence_min: float | None = None
    confidence_max: float | None = None
    manufacturer: str | None = None
    study_uid: str | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if self.review not in REVIEW_STATES:
            raise ValueError(f"review must be one of {REVIEW_STATES}, not {self.review!r}")
        lo, hi = self.confidence_min, self.confidence_max
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"confidence_min ({lo}) must not exceed confidence_max ({hi})")

    def where(self) -> tuple[str, list[Any]]:
        """SQL condition over the work-list columns and its parameters."""
        terms: list[str] = []
        args: list[Any] = []
        review = {"reviewed": "reviewed", "remaining": "NOT reviewed", "corrected": "corrected"}
        if self.review in review:
            terms.append(review[self.review])
        for value, sql in (
            (self.status, "status = ?"),
            (self.predicted, "sequence = ?"),
            (self.label, "cur_sequence = ?"),
            (self.manufacturer, "manufacturer = ?"),
            (self.study_uid, "study_uid = ?"),
        ):
            if value:
                terms.append(sql)
                args.append(value)
        if self.flag:
            terms.append("(';' || COALESCE(flags, '') || ';') LIKE ? ESCAPE '\\'")
            args.append("%;" + _like_escape(self.flag) + ";%")
        if self.confidence_min is not None:
            terms.append("confidence >= ?")
            args.append(float(self.confidence_min))
        if self.confidence_max is not None:
            terms.append("confidence <= ?")
            args.append(float(self.confidence_max))
        if self.text:
            terms.append(
                "(series_description LIKE ? ESCAPE '\\' OR series_key LIKE ? ESCAPE '\\' OR path LIKE ? ESCAPE '\\')"
            )
            args += ["%" + _like_escape(self.text) + "%"] * 3
        return (" AND ".join(terms) or "1"), args


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def query_series(
    db_path: Path,
    query: SeriesQuery | None = None,
    *,
    sort: str = "id",
    descending: bool = False,
    group: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the work list: (rows with current labels and review state, number of matching rows).

    Filtering, sorting (``sort`` from :data:`SORTABLE`, ties by ``id``), grouping (``group`` from
    :data:`GROUPABLE`: rows of a group kept together, groups ordered by their key) and the page
    (``offset``, ``limit`` at most 1000) are all done by SQLite.
    """
    query = query or SeriesQuery()
    if sort not in SORTABLE:
        raise ValueError(f"sort must be one of {sorted(SORTABLE)}, not {sort!r}")
    if group is not None and group not in GROUPABLE:
        raise ValueError(f"group must be one of {sorted(GROUPABLE)}, not {group!r}")
    if not 1 <= limit <= 1000 or offset < 0:
        raise ValueError(f"limit must be 1-1000 and offset at least 0 (got limit={limit}, offset={offset})")
    where, args = query.where()
    with connect(db_path) as con:
        if group == "patient" and "patient_id" not in _columns(con, SERIES_TABLE):
            group = "study"  # an index without PatientID: studies are the closest grouping
        order = [f"{GROUPABLE[group]} IS NULL, {GROUPABLE[group]}"] if group else []
        order.append(f"{SORTABLE[sort]} IS NULL, {SORTABLE[sort]} {'DESC' if descending else 'ASC'}")
        order.append("id")
        # First pass over the narrow columns: the page's ids and the number of matches in one scan; then
        # the full rows of that page only.
        narrow = _work_list_sql(con, _WORK_COLUMNS + ("patient_id",))
        found = con.execute(
            f"SELECT id, COUNT(*) OVER () AS n FROM ({narrow}) WHERE {where} ORDER BY {', '.join(order)} "
            "LIMIT ? OFFSET ?",
            [*args, int(limit), int(offset)],
        ).fetchall()
        if found:
            total = found[0]["n"]
        else:  # past the last page
            total = con.execute(f"SELECT COUNT(*) FROM ({narrow}) WHERE {where}", args).fetchone()[0]
        ids = [r["id"] for r in found]
        if not ids:
            return [], int(total)
        marks = ", ".join("?" for _ in ids)
        full = {
            r["id"]: dict(r) for r in con.execute(f"SELECT * FROM ({_work_list_sql(con)}) WHERE id IN ({marks})", ids)
        }
        return [full[i] for i in ids], int(total)


def work_list_row(db_path: Path, key: str) -> dict[str, Any] | None:
    """One series as :func:`query_series` returns it (current labels, review state), or None."""
    with connect(db_path) as con:
        row = con.execute(f"SELECT * FROM ({_work_list_sql(con)}) WHERE series_key = ?", (key,)).fetchone()
        return dict(row) if row is not None else None


def review_counts(db_path: Path) -> dict[str, int]:
    """Series in the index, reviewed (any audit row), corrected (a label changed) and remaining."""
    with connect(db_path) as con:
        total = con.execute(f"SELECT COUNT(*) FROM {SERIES_TABLE}").fetchone()[0]
        reviewed, corrected = con.execute(
            f"SELECT COUNT(*), COALESCE(SUM(r.corrected), 0) FROM {REVIEW_STATE_TABLE} r JOIN {SERIES_TABLE} s "
            "ON s.series_key = r.series_key"
        ).fetchone()
    return {
        "total": int(total),
        "reviewed": int(reviewed),
        "corrected": int(corrected),
        "remaining": int(total) - int(reviewed),
    }


def facets(db_path: Path) -> dict[str, list[str]]:
    """Values present in the index for the work list's filter menus (statuses, flags, predicted classes,
    vendors), each sorted."""
    with connect(db_path) as con:

        def distinct(column: str) -> list[str]:
            return sorted(
                str(r[0])
                for r in con.execute(
                    f"SELECT DISTINCT {_quote(column)} FROM {SERIES_TABLE} WHERE {_quote(column)} IS NOT NULL "
                    f"AND {_quote(column)} != ''"
                )
            )

        flags = sorted({f for value in distinct("flags") for f in value.split(";") if f})
        return {
            "status": distinct("status"),
            "flag": flags,
            "predicted": distinct("sequence"),
            "manufacturer": distinct("manufacturer"),
        }


def history(db_path: Path, series_key: str) -> list[dict[str, Any]]:
    """The audit rows of one series, oldest first."""
    with connect(db_path) as con:
        return [
            dict(r)
            for r in con.execute(f"SELECT * FROM {CORRECTIONS_TABLE} WHERE series_key = ? ORDER BY id", (series_key,))
        ]


def export_corrections(db_path: Path, out_csv: Path) -> int:
    """Write the reviewed series as training labels; return the number of rows.

    One row per reviewed series (corrected or accepted), with exactly :data:`EXPORT_COLUMNS`, the CSV that
    ``radclass train --labels`` reads: ``path,series_uid,sub_series,sequence,orientation,contrast,group``
    (``sub_series`` names one part of a split UID, empty otherwise). A field the
    reviewer did not touch keeps its prediction (the reviewer saw it and let it stand). ``orientation`` is
    left empty unless it is an acquisition plane of :data:`radclass.taxonomy.ORIENTATIONS`, ``contrast``
    unless it is one of the taxonomy's contrast values; ``group`` (for grouped cross-validation) is the
    PatientID when the index has one, else the StudyInstanceUID. Series whose sequence is still not a
    class of :data:`radclass.taxonomy.SEQUENCES` (e.g. an UNKNOWN that was only re-oriented) are left out.
    """
    latest = current_labels(db_path)
    contrasts = set(DEFAULT_CONTRAST.values())
    rows = []
    with connect(db_path) as con:
        has_patient = "patient_id" in _columns(con, SERIES_TABLE)
        for key, fields in latest.items():
            series = con.execute(f"SELECT * FROM {SERIES_TABLE} WHERE series_key = ?", (key,)).fetchone()
            if series is None:
                continue
            labels = {f: fields[f]["new"] if f in fields else series[f] for f in CORRECTABLE}
            if labels["sequence"] not in SEQUENCES:
                continue
            group = (series["patient_id"] if has_patient else None) or series["study_uid"] or ""
            rows.append(
                {
                    "id": series["id"],
                    "path": series["path"],
                    "series_uid": series["series_uid"],
                    "sub_series": series["sub_series"] or "",
                    "sequence": labels["sequence"],
                    "orientation": labels["orientation"] if labels["orientation"] in ORIENTATIONS else "",
                    "contrast": labels["contrast"] if labels["contrast"] in contrasts else "",
                    "group": group,
                }
            )
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: r["id"]))
    return len(rows)
