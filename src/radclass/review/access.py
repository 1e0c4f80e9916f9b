"""The files of an indexed series, and only those: the one place the review page turns an index row into
pixels it may read.

A row names its series by ``path`` (a folder, or a single file) and lists its files in ``files``. Every file
the page reads must be a regular file that resolves (symbolic links followed) to ``path`` itself or to a
place inside the folder ``path``; anything else in the row is ignored, so neither a request nor a tampered
index can make the page read a file outside the indexed series.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from radclass.io.series import Series


class SeriesAccessError(Exception):
    """The series' files cannot be read inside its own path; the message is for the reviewer."""


def confined_files(row: Mapping[str, Any]) -> list[Path]:
    """The readable files of an index row that lie within the row's ``path`` (resolved, in row order).

    Raises
    ------
    SeriesAccessError
        No listed file is a regular file inside the series' path.
    """
    raw_root = str(row.get("path") or "")
    if not raw_root:
        raise SeriesAccessError("the index gives no path for this series")
    root = Path(raw_root).resolve()
    listed = [f for f in str(row.get("files") or "").split(";") if f] or [raw_root]
    inside: list[Path] = []
    for name in listed:
        path = Path(name).resolve()
        if (path == root or (root.is_dir() and path.is_relative_to(root))) and path.is_file():
            inside.append(path)
    if not inside:
        raise SeriesAccessError("no file of this series can be read inside its folder")
    return inside


def indexed_series(row: Mapping[str, Any]) -> Series:
    """The :class:`~radclass.io.series.Series` of an index row, read back from its confined files (cached
    per id and update time, so a re-annotated series is read again)."""
    files = tuple(str(p) for p in confined_files(row))
    return _scan(files, str(row.get("series_key") or ""), str(row.get("updated_at") or ""))


@lru_cache(maxsize=128)
def _scan(files: tuple[str, ...], key: str, _updated: str) -> Series:
    from radclass.pipeline.scan import scan

    series = scan([Path(f) for f in files], workers=1).series
    if not series:
        raise SeriesAccessError("the files of this series hold no image the pixel reader can open")
    return next((s for s in series if s.key == key), series[0])
