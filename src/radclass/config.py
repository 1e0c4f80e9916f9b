"""Locations the package reads from (the shared data pool, the bundled models) and how it reads its TOML files."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

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


def parse_toml(text: str, source: str, error: type[Exception] = ValueError) -> dict[str, Any]:
    """The document of a TOML text, or ``error`` with a sentence naming ``source`` when it is not valid TOML."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source} is not valid TOML: {exc}.") from None
