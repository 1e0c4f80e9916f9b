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
    append-only log of label corrections: ``series_key, field, old, new, reviewer, time``.

Upserts are idempotent: annotating the same input twice leaves the same rows, only ``updated_at`` moves.
"""

from __future__ import annotations

import csv
import math
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radclass.taxonomy import ORIENTATIONS, SEQUENCES

SERIES_TABLE = "series"
SKIPPED_TABLE = "skipped"
CORRECTIONS_TABLE = "corrections"

#: Columns of the annotation contract, in display order (``p_<CLASS>`` and extras follow).
CORE_COLUMNS: tuple[str, ...] = (
    "path", "series_uid", "sub_series", "n_files", "modality", "manufacturer", "series_description",
    "sequence", "orientation", "contrast", "confidence", "status", "reason", "flags", "bids_suffix",
    "model_version", "study_uid", "files",
)
_NUMERIC = {"n_files": "INTEGER", "confidence": "REAL"}
_BOOKKEEPING = ("id", "series_key", "created_at", "updated_at")

#: Fields a reviewer may correct and the values each accepts.
CORRECTABLE: dict[str, tuple[str, ...]] = {
    "sequence": SEQUENCES,
    "orientation": (*ORIENTATIONS, "MIXED"),
    "contrast": ("pre", "post", "none", "na"),
}
EXPORT_COLUMNS: tuple[str, ...] = (
    "path", "series_uid", "sequence", "orientation", "contrast", "reviewer", "time",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column_type(name: str) -> str:
    if name in _NUMERIC:
        return _NUMERIC[name]
    return "REAL" if name.startswith("p_") else ""


def _sql_value(value: Any) -> Any:
    """A pandas/numpy cell as something sqlite3 stores (NaN/NA -> NULL)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()  # numpy scalar -> Python
    if isinstance(value, float) and math.isnan(value):
        return None
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
        "reviewer TEXT NOT NULL, time TEXT NOT NULL)"
    )
    con.execute(f"CREATE INDEX IF NOT EXISTS corrections_key ON {CORRECTIONS_TABLE}(series_key)")


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in con.execute(f"PRAGMA table_info({_quote(table)})")]


def _ensure_columns(con: sqlite3.Connection, table: str, names: list[str]) -> None:
    present = set(_columns(con, table))
    for name in names:
        if name not in present:
            con.execute(f"ALTER TABLE {_quote(table)} ADD COLUMN {_quote(name)} {_column_type(name)}".strip())


def series_key(series_uid: Any, sub_series: Any = "") -> str:
    """Key of a series row: the UID, plus ``#<sub_series>`` when the pipeline split the UID."""
    uid = "" if series_uid is None or (isinstance(series_uid, float) and math.isnan(series_uid)) else str(series_uid)
    sub = _sql_value(sub_series)
    return f"{uid}#{sub}" if sub not in (None, "") else uid


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
        [str(rec.get("path") or ""), rec.get("status"), rec.get("reason"), rec.get("flags"),
         rec.get("model_version"), now, now],
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
                "new": row["new"], "reviewer": row["reviewer"], "time": row["time"],
            }
    return latest


def add_correction(
    db_path: Path,
    series_key: str,
    field: str,
    new: str,
    reviewer: str,
    *,
    time: str | None = None,
) -> dict[str, Any]:
    """Record that ``reviewer`` set ``field`` of a series to ``new``; return the stored correction.

    ``old`` is the value in force before: the latest correction of that field, else the prediction.
    Raises KeyError for an unknown series and ValueError for a bad field, value or empty reviewer.
    """
    if field not in CORRECTABLE:
        raise ValueError(f"field must be one of {sorted(CORRECTABLE)}, not {field!r}")
    if new not in CORRECTABLE[field]:
        raise ValueError(f"{field} must be one of {CORRECTABLE[field]}, not {new!r}")
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise ValueError("a correction needs a reviewer name")
    time = time or _now()
    with connect(db_path) as con:
        row = con.execute(
            f"SELECT {_quote(field)} FROM {SERIES_TABLE} WHERE series_key = ?", (series_key,)
        ).fetchone()
        if row is None:
            raise KeyError(series_key)
        last = con.execute(
            f"SELECT new FROM {CORRECTIONS_TABLE} WHERE series_key = ? AND field = ? ORDER BY id DESC LIMIT 1",
            (series_key, field),
        ).fetchone()
        old = last["new"] if last is not None else row[0]
        con.execute(
            f"INSERT INTO {CORRECTIONS_TABLE} (series_key, field, old, new, reviewer, time) VALUES (?, ?, ?, ?, ?, ?)",
            (series_key, field, old, new, reviewer, time),
        )
    return {"series_key": series_key, "field": field, "old": old, "new": new, "reviewer": reviewer, "time": time}


def export_corrections(db_path: Path, out_csv: Path) -> int:
    """Write reviewed series as training labels; return the number of rows.

    One row per corrected series: ``path,series_uid,sequence,orientation,contrast,reviewer,time``. A field
    the reviewer did not correct keeps its prediction (the reviewer saw it and let it stand); ``reviewer``
    and ``time`` are those of the series' latest correction.
    """
    latest = current_labels(db_path)
    rows = []
    with connect(db_path) as con:
        for key, fields in latest.items():
            series = con.execute(f"SELECT * FROM {SERIES_TABLE} WHERE series_key = ?", (key,)).fetchone()
            if series is None:
                continue
            newest = max(fields.values(), key=lambda c: c["time"])
            labels = {f: fields[f]["new"] if f in fields else series[f] for f in CORRECTABLE}
            rows.append({"path": series["path"], "series_uid": series["series_uid"], **labels,
                         "reviewer": newest["reviewer"], "time": newest["time"]})
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
