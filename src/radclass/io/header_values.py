"""Values of a pydicom :class:`~pydicom.dataset.Dataset` read the way the header record needs them.

Every reader tolerates what real headers hold: a missing element, an empty value, a multi-valued element where
one value was expected, a value that does not convert. Each returns the empty value of its type then ("",
``()`` or None), never raises.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol, TypeVar


class Header(Protocol):
    """What these readers need of a header: pydicom's ``Dataset.get`` (a Dataset, or the raw walk's
    :class:`radclass.io.raw_dataset.HeaderElements`)."""

    def get(self, key: Any, default: Any = None) -> Any: ...


_T = TypeVar("_T")
_REMEMBERED: dict[tuple, Any] = {}
_REMEMBERED_SIZE = 16384
_MISSING = object()


def _remembered(read: Callable[..., _T]) -> Callable[..., _T]:
    """``read(ds, kw, *args)``, remembered for a header that says what a keyword's value is a function of
    (``ds.value_key(kw)``: the raw walk's elements); the files of a series repeat most values, and every
    reader here returns an immutable value."""

    @functools.wraps(read)
    def remembered(ds: Header, kw: str, *args: Any) -> _T:
        value_key = getattr(ds, "value_key", None)
        depends = value_key(kw) if value_key is not None else None
        if depends is None:
            return read(ds, kw, *args)
        key = (read, depends, args)
        out = _REMEMBERED.get(key, _MISSING)
        if out is _MISSING:
            out = read(ds, kw, *args)
            if len(_REMEMBERED) >= _REMEMBERED_SIZE:
                _REMEMBERED.clear()
            _REMEMBERED[key] = out
        return out

    return remembered


def as_list(value: Any) -> list[Any]:
    """``value`` as a list: [] for None, the values of a multi-valued element, else ``[value]``."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]


@_remembered
def get_text(ds: Header, kw: str) -> str:
    """Element ``kw`` as text (stripped; multiple values joined with a backslash), "" when missing or unreadable."""
    try:
        v = ds.get(kw)
    except Exception:
        return ""
    if v is None:
        return ""
    if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
        return "\\".join(str(x) for x in v)
    return str(v).strip()


@_remembered
def get_tokens(ds: Header, kw: str) -> tuple[str, ...]:
    """The non-empty values of element ``kw`` (a code string such as ImageType), stripped and upper-cased."""
    try:
        v = ds.get(kw)
    except Exception:
        return ()
    return tuple(str(x).strip().upper() for x in as_list(v) if str(x).strip())


def first_number(v: Any) -> float | None:
    """The first value of ``v`` as a float, None when missing or not a number."""
    try:
        if v is None or v == "":
            return None
        return float(as_list(v)[0])
    except (TypeError, ValueError, IndexError):
        return None


_GAUSS_PER_TESLA = 10_000.0


def tesla(strength: float | None) -> float | None:
    """MagneticFieldStrength (0018,0087) in tesla.

    PS3.3 C.8.3.1 defines the value in tesla, but old GE (Genesis/Signa) headers store gauss (15000 for 1.5 T);
    no magnet exceeds 100 T, so a larger value is taken as gauss.
    """
    if strength is None or strength <= 100.0:
        return strength
    return round(strength / _GAUSS_PER_TESLA, 4)


@_remembered
def get_float(ds: Header, kw: str) -> float | None:
    """The first value of element ``kw`` as a float, None when missing or not a number."""
    try:
        return first_number(ds.get(kw))
    except Exception:
        return None


@_remembered
def get_int(ds: Header, kw: str) -> int | None:
    """The first value of element ``kw`` as an int (truncated from its float), None when missing."""
    f = get_float(ds, kw)
    return int(f) if f is not None else None


@_remembered
def get_floats(ds: Header, kw: str, n: int) -> tuple[float, ...]:
    """The ``n`` values of element ``kw`` rounded to 4 decimals, ``()`` unless it holds exactly ``n`` numbers."""
    try:
        v = [float(x) for x in as_list(ds.get(kw))]
    except (TypeError, ValueError):
        return ()
    return tuple(round(x, 4) for x in v) if len(v) == n else ()


@_remembered
def get_pair(ds: Header, kw: str) -> tuple[float, float] | None:
    """The two values of element ``kw`` (for example PixelSpacing), None unless it holds exactly two numbers."""
    v = get_floats(ds, kw, 2)
    return (v[0], v[1]) if v else None
