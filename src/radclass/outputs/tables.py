"""Write a result table as CSV, JSON or Parquet, chosen by the file extension."""

from __future__ import annotations

from pathlib import Path

SUPPORTED = (".csv", ".json", ".parquet")


class OutputFormatError(ValueError):
    """The output path has an extension this module cannot write."""


def check_output_path(path: Path) -> None:
    """Fail early (before any work) when ``path`` cannot be written."""
    if path.suffix.lower() not in SUPPORTED:
        raise OutputFormatError(f"output must end in one of {', '.join(SUPPORTED)}: {path}")
    if path.is_dir():
        raise OutputFormatError(f"output path is a folder: {path}")
    parent = path.resolve().parent
    if not parent.exists():
        raise OutputFormatError(f"output folder does not exist: {parent}")
    if not parent.is_dir() or not _writable(parent):
        raise OutputFormatError(f"output folder is not writable: {parent}")


def _writable(folder: Path) -> bool:
    import os

    return os.access(folder, os.W_OK)


def write_table(df, path: Path) -> None:  # df: pandas.DataFrame
    """Write ``df`` to ``path`` (.csv, .json as records, or .parquet), atomically."""
    path = Path(path)
    check_output_path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df.to_csv(tmp, index=False)
    elif suffix == ".json":
        df.to_json(tmp, orient="records", indent=1)
    else:
        df.to_parquet(tmp, index=False)
    tmp.replace(path)


def read_table(path: Path):  # -> pandas.DataFrame
    """Read a table written by :func:`write_table` (or any CSV/JSON/Parquet table)."""
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    if suffix == ".json":
        return pd.read_json(path, orient="records")
    if suffix == ".parquet":
        return pd.read_parquet(path)
    raise OutputFormatError(f"cannot read {path}: use .csv, .json or .parquet")
