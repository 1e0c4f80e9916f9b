"""Fixtures of the ``radclass bids`` tests: a per-vendor subset of the pool's DICOM, annotated and converted once.

The subset (:data:`bids_helpers.POOL_SUBSET`) holds a few series of every vendor in the pool (Siemens XA30 anatomy, BOLD,
field maps, AP/PA diffusion and an ADC map; GE; Philips; Canon; Toshiba; Hitachi; Hyperfine; an unnamed
vendor's JPEG-LS series; a scout). The whole pool is measured by hand (see docs/bids.md), not here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bids_helpers import POOL_SUBSET, tool

@pytest.fixture(scope="session")
def subset_dirs(data_root: Path) -> list[Path]:
    """The subset's series folders."""
    return [data_root / "mri" / "dicom" / s for s in POOL_SUBSET]


@pytest.fixture(scope="session")
def subset_rows(subset_dirs: list[Path]) -> list[dict]:
    """The subset annotated once with the bundled models."""
    from radclass.pipeline.annotate import annotate_paths

    return annotate_paths(subset_dirs, progress=False, workers=1).to_dict("records")


@pytest.fixture(scope="session")
def subset_dataset(subset_rows: list[dict], tmp_path_factory: pytest.TempPathFactory):
    """(dataset folder, BidsResult) of the subset converted once."""
    from radclass.outputs.bids.dataset import build_bids

    tool("dcm2niix")
    root = tmp_path_factory.mktemp("bids") / "ds"
    return root, build_bids(subset_rows, root, name="radclass pool subset")
