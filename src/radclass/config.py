"""Locations the package reads from: the shared data pool and the bundled models."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DIR = PACKAGE_DIR / "bundled"


def data_root() -> Path:
    """The shared data pool: ``$RADCLASS_DATA``, else ``../shared/data`` beside the project root."""
    env = os.environ.get("RADCLASS_DATA")
    if env:
        return Path(env).expanduser().resolve()
    # src/radclass/config.py -> project root is two levels above src/
    project_root = PACKAGE_DIR.parent.parent
    return (project_root.parent / "shared" / "data").resolve()


def manifest_path() -> Path:
    """``MANIFEST.csv`` of the data pool (labels, one row per series folder or file)."""
    return data_root() / "MANIFEST.csv"
