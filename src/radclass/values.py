"""Reading table cells: missing values arrive as None, '' or NaN depending on where a row came from."""

from __future__ import annotations

import math
from typing import Any


def is_missing(v: Any) -> bool:
    """True for None, '' and NaN."""
    return v is None or v == "" or (isinstance(v, float) and math.isnan(v))


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
