"""Labelled image sets: a folder of class subfolders or a CSV ``path,label[,patient]``; the real head-CT set;
and the in-memory arrays the trainers use (numpy only).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radclass.diagnostic.images import find_images, read_image
from radclass.diagnostic.preprocess import base_array

__all__ = ["ImageArrays", "LabelledImages", "ct_head_hemorrhage", "load_arrays", "read_labelled"]

HEMORRHAGE, NORMAL = "HEMORRHAGE", "NORMAL"


@dataclass
class LabelledImages:
    """Image files with a class label each and, optionally, a patient ID (for grouped splits)."""

    paths: list[Path]
    labels: list[str]
    patients: list[str] | None = None

    def __post_init__(self) -> None:
        if len(self.paths) != len(self.labels):
            raise ValueError("paths and labels differ in length")
        if self.patients is not None and len(self.patients) != len(self.paths):
            raise ValueError("patients and paths differ in length")
        if not self.paths:
            raise ValueError("no labelled images")

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.labels))

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, index: np.ndarray | list[int]) -> LabelledImages:
        idx = [int(i) for i in index]
        return LabelledImages(
            [self.paths[i] for i in idx],
            [self.labels[i] for i in idx],
            None if self.patients is None else [self.patients[i] for i in idx],
        )


def _from_csv(path: Path) -> LabelledImages:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"path", "label"} <= set(rows[0]):
        raise ValueError(f"{path}: need the columns path,label[,patient]")
    base = path.parent
    paths = [Path(r["path"]) if Path(r["path"]).is_absolute() else base / r["path"] for r in rows]
    has_patient = "patient" in rows[0] and all((r.get("patient") or "").strip() for r in rows)
    patients = [r["patient"].strip() for r in rows] if has_patient else None
    return LabelledImages(paths, [r["label"].strip() for r in rows], patients)


def _from_folder(root: Path) -> LabelledImages:
    paths, labels = [], []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = find_images([sub])
        paths += files
        labels += [sub.name] * len(files)
    if len(set(labels)) < 2:
        raise ValueError(f"{root}: need at least two class subfolders holding images")
    return LabelledImages(paths, labels)


def read_labelled(source: Path | str) -> LabelledImages:
    """A labelled set from a CSV (``path,label[,patient]``; relative paths from the CSV's folder) or a folder
    whose subfolders are the classes."""
    source = Path(source)
    return _from_folder(source) if source.is_dir() else _from_csv(source)


def ct_head_hemorrhage(root: Path | str) -> LabelledImages:
    """The pool's head-CT slices: ``ct-head/labels.csv`` (``id,hemorrhage``) -> HEMORRHAGE / NORMAL.

    The collection has no patient IDs (several slices per patient), so none are returned.
    """
    folder = Path(root) / "ct-head"
    with open(folder / "labels.csv", newline="") as fh:
        rows = [{k.strip(): v.strip() for k, v in r.items()} for r in csv.DictReader(fh)]
    paths = [folder / "images" / f"{int(r['id']):03d}.png" for r in rows]
    labels = [HEMORRHAGE if r["hemorrhage"] == "1" else NORMAL for r in rows]
    return LabelledImages(paths, labels)


@dataclass
class ImageArrays:
    """Base arrays (N, 1, load_size, load_size) in their units, their kind, integer labels and class names."""

    x: np.ndarray
    y: np.ndarray
    kind: str
    classes: list[str]

    def take(self, index: np.ndarray) -> ImageArrays:
        return ImageArrays(self.x[index], self.y[index], self.kind, self.classes)


def load_arrays(images: LabelledImages, load_size: int, classes: list[str] | None = None) -> ImageArrays:
    """Read and resize every image once. HU images cannot be mixed with display/intensity images."""
    classes = classes or images.classes
    index = {c: i for i, c in enumerate(classes)}
    slices = [read_image(p) for p in images.paths]
    kinds = {s.kind for s in slices}
    if "hu" in kinds and len(kinds) > 1:
        raise ValueError("the set mixes CT in HU (DICOM/NIfTI) with already-windowed images; use one kind")
    x = np.stack([base_array(s, load_size) for s in slices]).astype(np.float32)
    y = np.array([index[label] for label in images.labels], dtype=np.int64)
    return ImageArrays(x, y, "hu" if kinds == {"hu"} else "display", list(classes))
