"""Acquisition plane from DICOM direction cosines or a NIfTI affine (rules of ``shared/docs/taxonomy.md``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from radclass.taxonomy import Plane

_PLANES = (Plane.SAG, Plane.COR, Plane.AX)  # largest component of the slice normal: x, y, z
OBLIQUE_LIMIT = 0.8


def slice_normal(iop: Sequence[float]) -> np.ndarray:
    """Unit normal of a slice from its six ImageOrientationPatient cosines (row x column)."""
    r0, r1, r2, c0, c1, c2 = (float(v) for v in iop[:6])
    # np.cross(row, col) for 3-vectors, term by term in the same float64 operations, without its array set-up
    # (called once per instance when a series is made)
    n = np.array((r1 * c2 - r2 * c1, r2 * c0 - r0 * c2, r0 * c1 - r1 * c0))
    norm = np.linalg.norm(n)
    return n / norm if norm > 0 else n


def plane_of_normal(normal: Sequence[float] | np.ndarray) -> Plane:
    """AX/COR/SAG by the largest absolute component; OBL when it is below 0.8."""
    a = np.abs(np.asarray(normal, dtype=float))
    if not np.isfinite(a).all() or a.max() == 0:
        return Plane.NA
    if a.max() < OBLIQUE_LIMIT:
        return Plane.OBL
    return _PLANES[int(np.argmax(a))]


def plane_of_iops(iops: Iterable[Sequence[float]]) -> Plane:
    """Plane of a set of IOPs: their common plane, MIXED when they name several, NA when none."""
    # each distinct IOP once (a series repeats one per instance)
    planes = {plane_of_normal(slice_normal(iop)) for iop in dict.fromkeys(tuple(i) for i in iops) if len(iop) == 6}
    planes.discard(Plane.NA)
    if not planes:
        return Plane.NA
    return planes.pop() if len(planes) == 1 else Plane.MIXED


def acquisition_axis(
    affine: np.ndarray, zooms: Sequence[float], slice_axis: int | None = None, shape: Sequence[int] | None = None
) -> int | None:
    """Voxel axis a NIfTI volume was acquired along.

    With ``shape``: the one axis of a single slice, whatever its voxel size (a slice can be thinner than its
    pixels are wide). Otherwise the lowest-resolution axis; for isotropic voxels, the axis with at most half the
    voxels of the others when ``shape`` is given (a slab: the in-plane matrix covers the head, the slices need
    not), else the slice axis the header records (``dim_info``, as native 2D EPI volumes have; a converter that
    reordered the axes, as dcm2niix does, may leave it stale), else None.
    """
    counts = np.asarray(shape[:3], dtype=float) if shape is not None and len(shape) >= 3 else None
    if counts is not None and np.count_nonzero(counts == 1) == 1:
        return int(np.flatnonzero(counts == 1)[0])
    z = np.asarray(zooms[:3], dtype=float)
    if z.min() <= 0 or z.max() / z.min() < 1.1:
        if counts is not None:
            order = np.argsort(counts)
            if counts[order[0]] <= 0.5 * counts[order[1]]:
                return int(order[0])
        return slice_axis if slice_axis in (0, 1, 2) else None
    return int(np.argmax(z))


def plane_of_affine(
    affine: np.ndarray, zooms: Sequence[float], slice_axis: int | None = None, shape: Sequence[int] | None = None
) -> Plane:
    """Plane of a NIfTI volume from the world direction of its acquisition axis (:func:`acquisition_axis`); NA
    when it is unknown. An affine that gives that axis no direction (a zero column: dcm2niix's two-slice volumes)
    still gives the other two: the slices' normal is their cross product."""
    axis = acquisition_axis(affine, zooms, slice_axis, shape)
    if axis is None:
        return Plane.NA
    columns = np.asarray(affine, dtype=float)[:3, :3]
    direction = columns[:, axis]
    if not np.linalg.norm(direction) > 0:
        first, second = (columns[:, a] for a in range(3) if a != axis)
        direction = np.cross(first, second)
    return plane_of_normal(direction / (np.linalg.norm(direction) or 1.0))
