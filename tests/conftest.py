"""Shared fixtures: the real data pool (tests skip with a clear reason when it is absent) and a CLI runner.

* ``data_root``: the shared data pool (``radclass.config.data_root()``, honouring ``$RADCLASS_DATA``); the
  requesting test is skipped when the pool (its ``MANIFEST.csv``) is not there.
* ``manifest``: ``MANIFEST.csv`` of the pool as strings (``NA``/``na`` kept as text, not missing values).
* ``pool_folders``: the pool's image folders (``mri/dicom``, ``mri/nifti``, ``ct-head``, ``liver``).
* ``pool_scan``: one in-process ``scan()`` of the pool's image folders, shared by the whole session.
* ``run_cli``: ``run_cli("scan", path, "--out", out)`` runs ``radclass`` in-process through
  ``typer.testing.CliRunner`` on ``radclass.cli.app.app`` and returns the click ``Result``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from radclass.config import data_root as _configured_data_root

#: Folders of the pool that hold images (everything but the top-level text files).
POOL_IMAGE_FOLDERS = ("mri/dicom", "mri/nifti", "mri/png", "ct-head", "liver")


def pool_missing_reason() -> str | None:
    """Why the data pool cannot be used, or None when it is there."""
    root = _configured_data_root()
    if not (root / "MANIFEST.csv").is_file():
        return (f"shared data pool not found: no MANIFEST.csv under {root} "
                "(set RADCLASS_DATA to the pool's location to run this test)")
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Root of the shared data pool; skips the test when the pool is absent."""
    reason = pool_missing_reason()
    if reason:
        pytest.skip(reason)
    return _configured_data_root()


@pytest.fixture(scope="session")
def manifest(data_root: Path):  # -> pandas.DataFrame
    """MANIFEST.csv, every column as text (``NA`` orientation and ``na`` fields stay strings)."""
    import pandas as pd

    return pd.read_csv(data_root / "MANIFEST.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def pool_folders(data_root: Path) -> list[Path]:
    """The pool's folders that hold images."""
    return [data_root / f for f in POOL_IMAGE_FOLDERS]


@pytest.fixture(scope="session")
def pool_scan(pool_folders: list[Path]):  # -> radclass.pipeline.scan.ScanResult
    """The pool's image folders scanned once per session (in-process, one worker)."""
    from radclass.pipeline.scan import scan

    return scan(pool_folders, workers=1)


def _run_cli(*args: Any, input: str | None = None):  # -> click.testing.Result
    from typer.testing import CliRunner

    import radclass.cli  # noqa: F401  (importing the package registers every command on the app)
    from radclass.cli.app import app

    return CliRunner().invoke(app, [str(a) for a in args], input=input)


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., Any]:
    """``run_cli(*args)`` -> click ``Result`` (``exit_code``, ``stdout``, ``stderr``, ``output``, ``exception``)."""
    return _run_cli

