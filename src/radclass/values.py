"""Reading table cells: missing values arrive as None, '' or NaN depending on where a row came from.

The one home of missing-value handling: a cell read from a scan row, a pandas DataFrame (NaN, ``pd.NA``,
``pd.NaT``), a CSV or the SQLite index goes through :func:`is_missing` / :func:`as_text` / :func:`as_number`.
"""

from __future__ import annotations

import math
import sys
from typing import Any


def is_missing(v: Any) -> bool:
    """True for None, '', NaN (Python or NumPy floats) and pandas' ``NA`` / ``NaT``."""
    if v is None:
        return True
    if isinstance(v, str):
        return v == ""
    if isinstance(v, float):
        return math.isnan(v)
    pandas = sys.modules.get("pandas")  # pd.NA / pd.NaT can only exist once pandas is imported
    if pandas is not None and (v is pandas.NA or v is pandas.NaT):
        return True
    nan = getattr(v, "dtype", None) is not None and getattr(v, "ndim", 1) == 0 and v != v  # NumPy float32 NaN
    return bool(nan)


def as_text(v: Any) -> str:
    """The cell as a string, '' when missing."""
    return "" if is_missing(v) else str(v)


def as_number(v: Any) -> float | None:
    """The cell as a finite float, None when missing or not a number."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
