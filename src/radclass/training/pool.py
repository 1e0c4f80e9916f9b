"""The labelled MRI pool: scan ``$RADCLASS_DATA/mri`` and join each series to its MANIFEST.csv row."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from radclass.config import data_root
from radclass.io.series import Series
from radclass.pipeline.scan import scan
from radclass.taxonomy import SEQUENCES


@dataclass
class LabelledSeries:
    """A pool series with its MANIFEST labels; ``dataset`` is the leave-one-out group."""

    series: Series
    sequence: str
    orientation: str
    contrast: str
    dataset: str
    pixels_usable: bool
    anatomy: str = "brain"  # MANIFEST body region (brain, spine, prostate, ...)


def read_manifest(root: Path | None = None) -> dict[str, dict[str, str]]:
    """MANIFEST rows keyed by absolute path."""
    root = root or data_root()
    with open(root / "MANIFEST.csv", newline="") as fh:
        return {str((root / r["relpath"]).resolve()): r for r in csv.DictReader(fh)}


def labelled_pool(root: Path | None = None, *, modality: str = "MR") -> list[LabelledSeries]:
    """Every scanned MR series of the pool that has a MANIFEST sequence label (masks excluded)."""
    root = root or data_root()
    manifest = read_manifest(root)
    result = scan([root / "mri"])
    pool: list[LabelledSeries] = []
    for s in result.series:
        row = manifest.get(str(Path(s.path).resolve()))
        if row is None or row["modality"] != modality or row["sequence"] not in SEQUENCES:
            continue
        if row["series_description"].startswith("MASK:"):
            continue
        pool.append(LabelledSeries(s, row["sequence"], row["orientation"], row["contrast"], row["dataset"],
                                   row["pixels_usable"] == "1", row.get("anatomy") or "brain"))
    return pool
