"""Slice geometry in DICOM patient coordinates (LPS, mm): planes, stacks, ImageOrientation/PositionPatient.

Conventions follow what scanners write for a head: axial images run right-to-left along a row and
anterior-to-posterior down a column (row cosine +x, column cosine +y), coronal +x / -z, sagittal +y / -z.
The slice normal is ``row x column``; its largest component names the plane (x SAG, y COR, z AX) and an
oblique plane keeps that component below 0.8, matching radclass's orientation rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_BASES: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "AX": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "COR": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    "SAG": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
}


def rotation(axis: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotation matrix about ``axis`` by ``angle_deg`` (Rodrigues)."""
    axis = np.asarray(axis, dtype=float)
    axis = axis / np.linalg.norm(axis)
    a = np.radians(angle_deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * (k @ k)


def plane_label(row: np.ndarray, col: np.ndarray) -> str:
    """AX/COR/SAG/OBL from row and column direction cosines (radclass's rule)."""
    normal = np.cross(row, col)
    normal = np.abs(normal / np.linalg.norm(normal))
    axis = int(np.argmax(normal))
    if normal[axis] < 0.8:
        return "OBL"
    return ("SAG", "COR", "AX")[axis]


def plane_axes(orientation: str, rng: np.random.Generator, *, max_tilt: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """Row and column cosines for a plane: a slightly tilted standard plane, or a double-oblique one."""
    if orientation in _BASES:
        row, col = (np.array(v) for v in _BASES[orientation])
        tilt = rotation(rng.normal(size=3), rng.uniform(0.0, max_tilt))
        if orientation == "AX" and rng.random() < 0.5:  # AC-PC style tilt about the left-right axis
            tilt = rotation(np.array([1.0, 0.0, 0.0]), rng.uniform(-15.0, 15.0))
        row, col = tilt @ row, tilt @ col
    elif orientation == "OBL":
        while True:
            base = ("AX", "COR", "SAG")[int(rng.integers(3))]
            row, col = (np.array(v) for v in _BASES[base])
            rot = rotation(rng.normal(size=3), rng.uniform(40.0, 60.0))
            row, col = rot @ row, rot @ col
            if np.abs(np.cross(row, col)).max() < 0.78:
                break
    else:
        raise ValueError(f"unknown orientation {orientation!r}")
    # Orthonormalise (numerical hygiene) and round like scanners do.
    row = row / np.linalg.norm(row)
    col = col - row * (row @ col)
    col = col / np.linalg.norm(col)
    assert plane_label(row, col) == orientation
    return row, col


@dataclass(frozen=True)
class Stack:
    """A stack of parallel slices: in-plane axes, pixel grid and slice positions along the normal."""

    row: np.ndarray  # direction of increasing column index
    col: np.ndarray  # direction of increasing row index
    centre: np.ndarray  # LPS mm of the stack centre (in-plane centre of the middle position)
    offsets: np.ndarray  # slice centres along the normal relative to ``centre``, ascending (mm)
    rows: int
    columns: int
    pixel_spacing: tuple[float, float]  # (between rows, between columns) mm

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.row, self.col)

    @property
    def orientation(self) -> str:
        return plane_label(self.row, self.col)

    def image_orientation(self) -> list[float]:
        """ImageOrientationPatient (row cosines then column cosines), rounded to 6 decimals."""
        return [round(float(v), 6) for v in (*self.row, *self.col)]

    def image_position(self, index: int) -> list[float]:
        """ImagePositionPatient: centre of the top-left pixel of slice ``index``."""
        dr, dc = self.pixel_spacing
        corner = (
            self.centre
            + self.offsets[index] * self.normal
            - (self.columns - 1) / 2.0 * dc * self.row
            - (self.rows - 1) / 2.0 * dr * self.col
        )
        return [round(float(v), 4) for v in corner]

    def points(self, depth: np.ndarray | None = None) -> np.ndarray:
        """Pixel centres (n_slices, [n_depth,] rows, columns, 3) in LPS mm; ``depth`` adds sub-slice offsets."""
        dr, dc = self.pixel_spacing
        u = (np.arange(self.columns, dtype=np.float32) - (self.columns - 1) / 2.0) * dc
        v = (np.arange(self.rows, dtype=np.float32) - (self.rows - 1) / 2.0) * dr
        plane = v[:, None, None] * self.col.astype(np.float32) + u[None, :, None] * self.row.astype(np.float32)
        offs = self.offsets.astype(np.float32)
        if depth is None:
            shift = offs[:, None, None, None] * self.normal.astype(np.float32)
            return self.centre.astype(np.float32) + shift + plane[None]
        total = offs[:, None] + np.asarray(depth, dtype=np.float32)[None, :]
        shift = total[:, :, None, None, None] * self.normal.astype(np.float32)
        return self.centre.astype(np.float32) + shift + plane[None, None]


def brain_extent(brain_points: np.ndarray, normal: np.ndarray, centre: np.ndarray) -> tuple[float, float]:
    """Range (2nd-98th percentile) of the brain along ``normal``, relative to ``centre`` (mm)."""
    proj = (brain_points - centre) @ normal
    return float(np.percentile(proj, 2)), float(np.percentile(proj, 98))


# Circle of Willis (LPS mm, MNI head): time-of-flight angiography is centred here, not on the whole brain.
CIRCLE_OF_WILLIS_LPS = np.array([0.0, 5.0, -18.0])


def coverage(sequence: str, brain_points: np.ndarray, normal: np.ndarray, centre: np.ndarray) -> tuple[float, float]:
    """Range along ``normal`` (relative to ``centre``) a series of this class covers: the brain, or for MRA a
    60 mm slab around the circle of Willis."""
    if sequence == "MRA":
        c = float((CIRCLE_OF_WILLIS_LPS - centre) @ normal)
        return c - 25.0, c + 35.0
    return brain_extent(brain_points, normal, centre)


def even_offsets(lo: float, hi: float, n: int, margin: float = 0.15) -> np.ndarray:
    """``n`` evenly spaced positions inside [lo, hi], leaving ``margin`` of the range at each end."""
    if n == 1:
        return np.array([(lo + hi) / 2.0])
    span = hi - lo
    return np.linspace(lo + margin * span, hi - margin * span, n)
