"""Shared by the benchmark scripts: list a tree's files and warm the page cache before timing."""

from __future__ import annotations

import os
from pathlib import Path


def tree_files(tree: Path) -> list[Path]:
    """Every file under ``tree`` (directory links not followed)."""
    return [Path(d) / f for d, _, names in os.walk(tree) for f in names]


def warm_cache(files: list[Path]) -> int:
    """Read every file once so that all timings run on a warm page cache; returns the bytes read."""
    total = 0
    for f in files:
        try:
            with open(f, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    total += len(chunk)
        except OSError:
            pass
    return total
