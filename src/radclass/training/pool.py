"""Labelled training sets: the types (a labelled series, a labelled set with its exclusions) and the shared pool
(scan ``$RADCLASS_DATA/mri`` and join each series to its MANIFEST.csv row). A user's LABELS.csv: ``labels.py``."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from radclass.config import data_root
from radclass.io.series import Series
from radclass.pipeline.scan import scan
from radclass.taxonomy import SEQUENCES


@dataclass
class LabelledSeries:
    """A labelled series; ``dataset`` is its group (pool dataset, or a user's subject/site), kept whole by splits."""

    series: Series
    sequence: str
    orientation: str
    contrast: str
    dataset: str
    pixels_usable: bool
    anatomy: str = "brain"  # MANIFEST body region (brain, spine, prostate, ...)

    @property
    def id(self) -> str:
        """Unique name of the series in a training set: its path, plus ``#sub`` when a UID was split."""
        return f"{self.series.path}#{self.series.sub_series}" if self.series.sub_series else self.series.path


@dataclass(frozen=True)
class Excluded:
    """A labels row that did not become a training series, and why."""

    source: str  # "FILE:LINE"
    name: str  # the path or UID the row named
    reason: str


@dataclass
class LabelledSet:
    """The series to train on, where their labels came from, and the rows that were left out (with reasons)."""

    items: list[LabelledSeries]
    source: str
    excluded: list[Excluded] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.source:
            raise ValueError("A labelled set needs a source description (a MANIFEST or LABELS.csv path).")


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
        pool.append(
            LabelledSeries(
                s,
                row["sequence"],
                row["orientation"],
                row["contrast"],
                row["dataset"],
                row["pixels_usable"] == "1",
                row.get("anatomy") or "brain",
            )
        )
    return pool


def manifest_set(root: Path | None = None, datasets: tuple[str, ...] = ()) -> LabelledSet:
    """The pool as a labelled set (its labels are the MANIFEST), optionally restricted to ``datasets``."""
    root = root or data_root()
    items = labelled_pool(root)
    if datasets:
        items = [p for p in items if p.dataset in datasets]
    return LabelledSet(items, str(root / "MANIFEST.csv"))
