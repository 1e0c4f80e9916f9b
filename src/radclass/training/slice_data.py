"""Slice datasets for the CNNs: real pool series, isotropic volumes resliced in three planes, simulation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from radclass.features.slices import DEFAULT_SIZE, prepare_batch
from radclass.io.pixels import PixelReadError, evenly_spaced, load_slices
from radclass.taxonomy import SEQUENCES
from radclass.training.pool import LabelledSeries

ORIENT_HEAD = ("AX", "COR", "SAG")  # classes of the orientation head; OBL/NA/MIXED are masked (-1)


@dataclass
class SliceSet:
    """Prepared slices with labels: ``x`` (n,1,s,s), ``seq``/``orient`` class indices, ``group``, ``series``."""

    x: np.ndarray
    seq: np.ndarray
    orient: np.ndarray
    group: np.ndarray
    series: np.ndarray

    @staticmethod
    def concat(sets: Sequence[SliceSet]) -> SliceSet:
        sets = [s for s in sets if len(s.x)]
        if not sets:
            return SliceSet.empty()
        return SliceSet(
            *(np.concatenate([getattr(s, f) for s in sets]) for f in ("x", "seq", "orient", "group", "series"))
        )

    @staticmethod
    def empty(size: int = DEFAULT_SIZE) -> SliceSet:
        return SliceSet(
            np.zeros((0, 1, size, size), np.float32),
            np.zeros(0, int),
            np.zeros(0, int),
            np.zeros(0, object),
            np.zeros(0, object),
        )

    def subset(self, mask: np.ndarray) -> SliceSet:
        return SliceSet(self.x[mask], self.seq[mask], self.orient[mask], self.group[mask], self.series[mask])


def orient_index(plane: str) -> int:
    return ORIENT_HEAD.index(plane) if plane in ORIENT_HEAD else -1


def pool_slices(
    pool: Sequence[LabelledSeries],
    k: int = 8,
    size: int = DEFAULT_SIZE,
    reslice_isotropic: bool = True,
    central: float = 1.0,
) -> SliceSet:
    """Slices of every pixel-usable pool series; isotropic NIfTI volumes also resliced in AX/COR/SAG.

    ``central`` < 1 takes the ``k`` slices from the central part of the volume (Ranjbar et al.: 4 slices of
    the central half): ``k / central`` evenly spaced slices are read and the middle ``k`` kept.
    """
    if not 0 < central <= 1:
        raise ValueError(f"The central fraction of the volume must be in (0, 1]; got {central}.")
    sets: list[SliceSet] = []
    for item in pool:
        if not item.pixels_usable:
            continue
        s = item.series
        try:
            slices = _central(load_slices(s, int(np.ceil(k / central))), k)
        except PixelReadError:
            continue
        plane = item.orientation if item.orientation in ORIENT_HEAD else s.header.get("orientation", "NA")
        sets.append(_make(slices, item, orient_index(str(plane)), size))
        if reslice_isotropic and s.format == "nifti" and item.orientation == "NA":
            for plane_name, planes in _three_planes(s.path, k).items():
                sets.append(_make(planes, item, orient_index(plane_name), size))
    return SliceSet.concat(sets)


def _central(slices: list[np.ndarray], k: int) -> list[np.ndarray]:
    """The middle ``k`` of evenly spaced slices (all when there are no more than ``k``)."""
    start = max((len(slices) - k) // 2, 0)
    return slices[start : start + k]


def _make(slices: list[np.ndarray], item: LabelledSeries, orient: int, size: int) -> SliceSet:
    n = len(slices)
    return SliceSet(
        prepare_batch(slices, size),
        np.full(n, SEQUENCES.index(item.sequence)),
        np.full(n, orient),
        np.full(n, item.dataset, object),
        np.full(n, item.id, object),
    )


def _three_planes(path: str, k: int) -> dict[str, list[np.ndarray]]:
    """Slices of a canonical (RAS) volume along x (SAG), y (COR) and z (AX), anterior/superior up."""
    import nibabel as nib

    img = nib.as_closest_canonical(nib.load(path))
    data = np.asanyarray(img.dataobj).astype(np.float32)
    if data.ndim > 3:
        data = data.reshape(data.shape[:3] + (-1,))[..., 0]
    out: dict[str, list[np.ndarray]] = {}
    for axis, plane in ((0, "SAG"), (1, "COR"), (2, "AX")):
        vol = np.moveaxis(data, axis, 0)
        energy = np.array([np.count_nonzero(sl > 0) for sl in vol])
        keep = np.flatnonzero(energy > 0.15 * energy.max())
        out[plane] = [np.rot90(vol[int(keep[i])]).copy() for i in evenly_spaced(len(keep), k)]
    return out


def simulated_slices(
    make: Callable[[str, str, np.random.Generator, int], np.ndarray],
    n_series_per_class: int,
    k: int = 4,
    size: int = DEFAULT_SIZE,
    seed: int = 0,
    classes: Sequence[str] = SEQUENCES,
) -> SliceSet:
    """Slices from a simulator ``make(sequence, plane, rng, n_slices) -> (n, h, w)``, group ``sim``."""
    rng = np.random.default_rng(seed)
    sets: list[SliceSet] = []
    for seq in classes:
        for i in range(n_series_per_class):
            plane = ORIENT_HEAD[rng.integers(3)] if rng.random() > 0.1 else "OBL"
            vol = make(seq, plane, rng, k)
            n = len(vol)
            sets.append(
                SliceSet(
                    prepare_batch(list(vol), size),
                    np.full(n, SEQUENCES.index(seq)),
                    np.full(n, orient_index(plane)),
                    np.full(n, "sim", object),
                    np.full(n, f"sim:{seq}:{i}", object),
                )
            )
    return SliceSet.concat(sets)
