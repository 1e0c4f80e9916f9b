"""Shared recipe plumbing: TOML sections into dataclasses, a timed logger, prediction/truth CSVs, AUC tables."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

__all__ = ["Logger", "auc_with_ci", "from_mapping", "read_section", "write_predictions", "write_truth"]


def read_section(path: Path | str | None, section: str) -> dict[str, Any]:
    """The ``[section]`` table of a TOML file ({} for no file)."""
    if path is None:
        return {}
    import tomllib

    data = tomllib.loads(Path(path).read_text())
    if section not in data:
        raise ValueError(f"{path}: no [{section}] table")
    return data[section]


def from_mapping(cls: type[T], values: dict[str, Any]) -> T:
    """Build dataclass ``cls`` from ``values``; nested dataclass fields from nested tables; unknown keys fail."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} settings: {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    defaults = cls()
    for name, value in values.items():
        current = getattr(defaults, name)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            kwargs[name] = from_mapping(type(current), value)
        elif isinstance(current, tuple) and isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


class Logger:
    """Prints (or hands to ``sink``) messages prefixed with the seconds since start; keeps them."""

    def __init__(self, sink: Callable[[str], None] | None = print):
        self.start = time.time()
        self.sink = sink
        self.lines: list[str] = []

    def __call__(self, message: str) -> None:
        line = f"[{time.time() - self.start:7.1f}s] {message}"
        self.lines.append(line)
        if self.sink:
            self.sink(line)

    @property
    def elapsed(self) -> float:
        return time.time() - self.start

    def prefixed(self, prefix: str) -> Callable[[str], None]:
        """A log function that writes ``prefix + message`` here."""
        return lambda message: self(prefix + message)


def write_predictions(
    path: Path,
    paths: list[str],
    classes: list[str],
    proba: np.ndarray,
    positive: str,
    extra: dict[str, Any] | None = None,
) -> Path:
    """``path,label,probability,p_<CLASS>...`` CSV (label = argmax; probability = of ``positive``)."""
    import pandas as pd

    pos = classes.index(positive)
    df = pd.DataFrame({"path": paths, "label": [classes[i] for i in proba.argmax(1)], "probability": proba[:, pos]})
    for i, c in enumerate(classes):
        df[f"p_{c}"] = proba[:, i]
    for k, v in (extra or {}).items():
        df[k] = v
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def write_truth(path: Path, paths: list[str], labels: list[str]) -> Path:
    """``path,label`` truth CSV for ``radclass evaluate``."""
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"path": paths, "label": labels}).to_csv(path, index=False)
    return path


def auc_with_ci(y: np.ndarray, score: np.ndarray) -> tuple[float, float, float]:
    """ROC AUC with its 95 % DeLong interval (``radclass.evaluate.delong_auc_ci``)."""
    from radclass.evaluate.delong import delong_auc_ci

    auc, (low, high) = delong_auc_ci(np.asarray(y), np.asarray(score, dtype=float))
    return float(auc), float(low), float(high)
