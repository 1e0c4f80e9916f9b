"""Head anatomy for the simulator: tissue fraction maps on a 2 mm grid.

Brain tissues come from the MNI152 2009 grey/white-matter probability maps and brain mask that nilearn ships
inside its package (no download). Everything else is derived: CSF (mask minus GM and WM), deep grey matter
(an ellipsoid around the basal ganglia and thalami), dura, skull tables and fatty diploë, scalp, a skull base
/ face / neck block, eyes with orbital fat, air sinuses, choroid plexus, named arteries and dural sinuses plus
cortical veins drawn as tubes, and a white-matter fibre direction field from the structure tensor of the WM
map. Distances to the brain surface use the level sets of a Gaussian-blurred mask (``d = -sigma *
Phi^-1(blur)``), which gives sub-voxel partial volumes at 2 mm without a 1 mm distance transform.

The result (about 60 MB, cropped to the head) is built once per process (2-4 s) and kept in memory by
:func:`load_anatomy`. Coordinates: :meth:`Anatomy.voxel_coords` takes DICOM patient coordinates (LPS, mm); MNI
space is RAS, so ``ras = (-x, -y, z)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.special import ndtri

GRID_MM = 2.0
TISSUES: tuple[str, ...] = (
    "gm",
    "deep_gm",
    "wm",
    "csf",
    "fat",
    "muscle",
    "bone",
    "dura",
    "artery",
    "vein",
    "choroid",
    "eye",
)
TISSUE_INDEX = {name: i for i, name in enumerate(TISSUES)}

# Padding (in 2 mm voxels) around the MNI box (x -98..98, y -134..98, z -72..116 mm) for skull, scalp and neck.
_PAD = ((12, 12), (10, 14), (18, 4))


@dataclass(frozen=True)
class Anatomy:
    """Tissue fractions and per-voxel fields on a regular RAS grid (cropped to the head).

    ``fractions`` is channels-first float32 (one channel per :data:`TISSUES`) so a series' signal volume is a
    single matrix-vector product; the fibre field (RAS unit vectors), anisotropy and texture are float16.
    """

    fractions: np.ndarray  # (len(TISSUES), X, Y, Z) float32, partial volumes summing to <= 1
    fibre: np.ndarray  # (3, X, Y, Z) float16, principal WM direction (RAS)
    anisotropy: np.ndarray  # (X, Y, Z) float16, 0..1
    texture: np.ndarray  # (X, Y, Z) float16, unit-variance smooth noise
    field_ppm: np.ndarray  # (X, Y, Z) float32, B0 offset from air cavities
    origin_ras: np.ndarray  # RAS mm of voxel (0, 0, 0)
    spacing: float
    brain_min_lps: np.ndarray  # bounding box of the brain mask, LPS mm
    brain_max_lps: np.ndarray
    brain_points_lps: np.ndarray  # (M, 3) random points inside the brain, LPS mm (extents along any axis)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.fractions.shape[1:]

    @property
    def brain_center_lps(self) -> np.ndarray:
        return (self.brain_min_lps + self.brain_max_lps) / 2.0

    def voxel_coords(self, points_lps: np.ndarray) -> np.ndarray:
        """Continuous voxel indices (N, 3) of LPS points (N, 3)."""
        ras = points_lps * np.array([-1.0, -1.0, 1.0], dtype=np.float32)
        return ((ras - self.origin_ras) / self.spacing).astype(np.float32)


# ------------------------------------------------------------------------------------------ templates


def _load_templates() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNI152 GM, WM and brain mask at 1 mm block-averaged to 2 mm; padded; plus the RAS origin."""
    from nilearn import datasets  # shipped with the package: no network access

    def at_2mm(img: object) -> np.ndarray:
        data = np.asarray(img.get_fdata(dtype=np.float32))  # type: ignore[attr-defined]
        data = np.pad(data, [(0, s % 2) for s in data.shape])
        x, y, z = (s // 2 for s in data.shape)
        return data.reshape(x, 2, y, 2, z, 2).mean(axis=(1, 3, 5))

    gm_img = datasets.load_mni152_gm_template(resolution=1)
    gm = at_2mm(gm_img)
    wm = at_2mm(datasets.load_mni152_wm_template(resolution=1))
    mask = at_2mm(datasets.load_mni152_brain_mask(resolution=1))
    affine = np.asarray(gm_img.affine)
    origin = affine[:3, 3] + 0.5 * np.diag(affine)[:3]  # centre of the first 2x2x2 block
    origin = origin - GRID_MM * np.array([p[0] for p in _PAD])
    pad = [(a, b) for a, b in _PAD]
    return np.pad(gm, pad), np.pad(wm, pad), np.clip(np.pad(mask, pad), 0, 1), origin.astype(np.float32)


def _grid_mm(shape: tuple[int, ...], origin: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RAS mm coordinates of every voxel centre (broadcastable open grids)."""
    axes = [origin[i] + GRID_MM * np.arange(shape[i], dtype=np.float32) for i in range(3)]
    return np.ix_(*axes)


def _distance_outside(mask: np.ndarray, sigma_mm: float = 8.0) -> np.ndarray:
    """Approximate signed distance (mm, positive outside) from a partial-volume mask via blurred level sets."""
    blur = ndi.gaussian_filter(mask.astype(np.float32), sigma_mm / GRID_MM)
    blur = np.clip(blur, 1e-6, 1 - 1e-6)
    return (-sigma_mm * ndtri(blur)).astype(np.float32)


def _band(d: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fraction of each 2 mm voxel (centred at distance d) lying within [lo, hi] mm."""
    h = GRID_MM
    overlap = np.minimum(d + h / 2, hi) - np.maximum(d - h / 2, lo)
    return np.clip(overlap / h, 0.0, 1.0).astype(np.float32)


def _ellipsoid(
    grid: tuple[np.ndarray, ...],
    centre: tuple[float, float, float],
    radii: tuple[float, float, float],
    soft: float = 1.5,
) -> np.ndarray:
    """Soft-edged ellipsoid membership (0..1) in RAS mm."""
    x, y, z = grid
    r = np.sqrt(
        ((x - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2 + ((z - centre[2]) / radii[2]) ** 2
    )
    edge = soft / min(radii)
    return np.clip((1.0 - r) / edge + 0.5, 0.0, 1.0).astype(np.float32)


def _sharpen(
    gm: np.ndarray, wm: np.ndarray, csf: np.ndarray, mask: np.ndarray, gamma: float = 2.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crisper GM/WM/CSF boundaries (p^gamma renormalised): a population average is blurrier than a brain."""
    stack = np.stack([gm, wm, csf]) ** gamma
    stack = stack / np.maximum(stack.sum(axis=0), 1e-6) * mask
    return stack[0], stack[1], stack[2]


# ------------------------------------------------------------------------------------------- vessels


def _tube(
    shape: tuple[int, ...], origin: np.ndarray, points: list[tuple[float, float, float]], radius: float
) -> np.ndarray:
    """Partial-volume fraction of a tube of ``radius`` mm along a RAS polyline."""
    out = np.zeros(shape, dtype=np.float32)
    pts = np.asarray(points, dtype=np.float32)
    reach = radius + GRID_MM
    for a, b in zip(pts[:-1], pts[1:]):
        lo = np.floor((np.minimum(a, b) - reach - origin) / GRID_MM).astype(int)
        hi = np.ceil((np.maximum(a, b) + reach - origin) / GRID_MM).astype(int) + 1
        lo, hi = np.maximum(lo, 0), np.minimum(hi, shape)
        if np.any(hi <= lo):
            continue
        axes = [origin[i] + GRID_MM * np.arange(lo[i], hi[i], dtype=np.float32) for i in range(3)]
        gx, gy, gz = np.meshgrid(*axes, indexing="ij")
        p = np.stack([gx, gy, gz], axis=-1)
        ab = b - a
        t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-6), 0.0, 1.0)
        dist = np.linalg.norm(p - (a + t[..., None] * ab), axis=-1)
        frac = np.clip((radius - dist) / GRID_MM + 0.5, 0.0, 1.0)
        sl = tuple(slice(lo[i], hi[i]) for i in range(3))
        out[sl] = np.maximum(out[sl], frac)
    return out


def _mirror(points: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    return [(-x, y, z) for x, y, z in points]


# Named arteries (RAS mm, MNI space) as (polyline, radius mm); right side given, left mirrored.
_ARTERIES: list[tuple[list[tuple[float, float, float]], float]] = [
    ([(18, 5, -72), (18, 2, -50), (16, 6, -35), (15, 4, -22)], 2.2),  # internal carotid
    (
        [(15, 4, -22), (4, 14, -16), (3, 28, -6), (3, 38, 8), (3, 32, 28), (3, 12, 40), (3, -18, 48), (3, -45, 44)],
        1.2,
    ),  # ACA
    ([(15, 4, -22), (28, 8, -18), (40, 4, -8), (46, -6, 6), (50, -25, 25), (46, -50, 40)], 1.3),  # MCA superior
    ([(40, 4, -8), (50, -12, -4), (56, -38, 4), (50, -62, 10)], 1.0),  # MCA inferior
    ([(8, -38, -72), (5, -32, -58), (0, -26, -52)], 1.4),  # vertebral
    ([(0, -15, -24), (10, -12, -20), (22, -30, -12), (30, -60, -2), (20, -88, 4)], 1.1),  # PCA
    ([(15, 4, -22), (10, -8, -20)], 0.8),  # posterior communicating
]
_BASILAR: tuple[list[tuple[float, float, float]], float] = ([(0, -26, -52), (0, -20, -38), (0, -15, -24)], 1.6)
_SINUSES: list[
    tuple[list[tuple[float, float, float]], float]
] = [  # dural venous sinuses and deep veins (midline or right side)
    ([(0, -100, -6), (0, -70, 6), (0, -48, 14)], 2.2),  # straight sinus
    ([(0, -100, -6), (28, -98, -12), (50, -78, -22), (46, -56, -36), (40, -42, -52)], 2.8),  # transverse/sigmoid
    ([(2, -48, 14), (3, -30, 18), (4, -12, 20)], 1.1),  # internal cerebral vein
]


def _surface_point(
    mask: np.ndarray, origin: np.ndarray, centre: np.ndarray, direction: np.ndarray, offset: float
) -> np.ndarray:
    """Where a ray from ``centre`` leaves the brain mask, pushed ``offset`` mm further out."""
    direction = direction / np.linalg.norm(direction)
    for r in np.arange(10.0, 120.0, 1.0):
        p = centre + r * direction
        idx = np.round((p - origin) / GRID_MM).astype(int)
        if np.any(idx < 0) or np.any(idx >= mask.shape) or mask[tuple(idx)] < 0.5:
            return centre + (r + offset) * direction
    return centre + 120.0 * direction


def _veins(mask: np.ndarray, origin: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Superior sagittal sinus following the skull midline plus cortical veins draining into it."""
    shape = mask.shape
    centre = np.array([0.0, -20.0, 12.0], dtype=np.float32)
    angles = np.radians(np.linspace(5, 200, 40))  # from the frontal base over the vertex to the torcular
    sss = [_surface_point(mask, origin, centre, np.array([0.0, np.cos(a), np.sin(a)]), 3.5) for a in angles]
    sss[-1] = np.array([0.0, -100.0, -6.0])
    veins = _tube(shape, origin, [tuple(p) for p in sss], 3.0)
    for _ in range(14):
        side = rng.choice([-1.0, 1.0])
        start = np.array([side, rng.uniform(-0.8, 0.7), rng.uniform(-0.4, 0.2)])
        top = np.array([0.15 * side, start[1] * 0.6 + rng.uniform(-0.2, 0.2), 1.0])
        path = [_surface_point(mask, origin, centre, (1 - t) * start + t * top, 1.0) for t in np.linspace(0, 1, 9)]
        veins = np.maximum(veins, _tube(shape, origin, [tuple(p) for p in path], rng.uniform(0.7, 1.1)))
    return veins


# Where cortical branches leave the main arteries (right side, RAS mm): MCA, ACA and PCA territories.
_BRANCH_ROOTS = [
    (46, -6, 6),
    (50, -25, 25),
    (50, -12, -4),
    (56, -38, 4),
    (40, 4, -8),
    (3, 32, 28),
    (3, 12, 40),
    (3, -18, 48),
    (30, -60, -2),
    (20, -88, 4),
]


def _arteries(mask: np.ndarray, origin: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Named arteries plus cortical branches running from them over the brain surface."""
    shape = mask.shape
    out = _tube(shape, origin, *_BASILAR)
    for points, radius in _ARTERIES:
        out = np.maximum(out, _tube(shape, origin, points, radius))
        out = np.maximum(out, _tube(shape, origin, _mirror(points), radius))
    centre = np.array([0.0, -15.0, 10.0], dtype=np.float32)
    for root in _BRANCH_ROOTS:
        for side in (1.0, -1.0):
            start = np.array([root[0] * side, root[1], root[2]], dtype=np.float32)
            for _ in range(2):
                d0 = start - centre
                d1 = d0 / np.linalg.norm(d0) + rng.normal(0.0, 0.45, 3)
                d1[0] = abs(d1[0]) * np.sign(start[0] if abs(start[0]) > 5 else side)
                path = [start] + [
                    _surface_point(mask, origin, centre, (1 - t) * d0 / np.linalg.norm(d0) + t * d1, -1.5)
                    for t in np.linspace(0.25, 1.0, 6)
                ]
                out = np.maximum(out, _tube(shape, origin, [tuple(p) for p in path], float(rng.uniform(0.6, 0.9))))
    return out


def _dural_sinuses(shape: tuple[int, ...], origin: np.ndarray) -> np.ndarray:
    out = np.zeros(shape, dtype=np.float32)
    for points, radius in _SINUSES:
        out = np.maximum(out, _tube(shape, origin, points, radius))
        out = np.maximum(out, _tube(shape, origin, _mirror(points), radius))
    return out


# ------------------------------------------------------------------------------------------- fibres


def _fibre_field(
    grid: tuple[np.ndarray, ...], wm: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Principal fibre direction (RAS unit vectors) and anisotropy (0..1) of white matter.

    A coarse atlas of the main bundles: left-right in the corpus callosum, inferior-superior in the internal
    capsule / corticospinal tract and brainstem, anterior-posterior elsewhere (association fibres, optic
    radiations), blended smoothly and perturbed; anisotropy is highest in those bundles' cores.
    """
    x, y, z = grid

    def box(v: np.ndarray, lo: float, hi: float, soft: float = 6.0) -> np.ndarray:
        return np.clip((v - lo) / soft + 0.5, 0, 1) * np.clip((hi - v) / soft + 0.5, 0, 1)

    callosum = box(x, -16, 16, 8) * box(z, 4, 32) * box(y, -44, 36)
    spinal = box(np.abs(x), 10, 34) * box(z, -16, 46) * box(y, -34, 12) + box(x, -14, 14) * box(z, -80, -8) * box(
        y, -48, -4
    )
    spinal = np.clip(spinal, 0, 1) * (1.0 - callosum)
    rest = np.clip(1.0 - callosum - spinal, 0, 1)
    noise = [ndi.gaussian_filter(rng.standard_normal(wm.shape).astype(np.float32), 2.0) * 1.5 for _ in range(3)]
    direction = np.stack(
        [
            callosum + 0.25 * rest * np.sign(x + 1e-3) * np.clip(np.abs(x) / 60.0, 0, 1) + noise[0] * 0.3,
            rest + noise[1] * 0.3,
            spinal + 0.3 * rest * np.clip(z / 60.0, -1, 1) + noise[2] * 0.3,
        ],
        axis=-1,
    ).astype(np.float32)
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True) + 1e-6
    core = np.clip(ndi.gaussian_filter(wm, 1.0) * 1.3 - 0.3, 0, 1)  # lower near cortex (crossing, partial volume)
    anisotropy = np.clip(core * (0.55 + 0.35 * np.maximum(callosum, spinal)), 0, 1) * (wm > 0.05)
    return direction, anisotropy.astype(np.float32)


# ------------------------------------------------------------------------------------------ assembly


def build_anatomy(seed: int = 1234) -> Anatomy:
    """Derive all tissue maps and fields (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    gm, wm, mask, origin = _load_templates()
    shape = gm.shape
    grid = _grid_mm(shape, origin)
    x, y, z = grid
    csf = np.clip(mask - gm - wm, 0.0, 1.0)
    gm, wm, csf = _sharpen(gm, wm, csf, mask)

    # Deep grey matter: basal ganglia, thalami, midbrain nuclei (iron-rich on SWI).
    deep = gm * _ellipsoid(grid, (0.0, -5.0, 2.0), (27.0, 30.0, 19.0), soft=6.0)
    gm = gm - deep

    # Layers outside the brain by distance from its surface (mm).
    d = _distance_outside(mask)
    outside = 1.0 - mask
    csf = csf + outside * _band(d, 0.0, 1.5)
    dura = outside * _band(d, 1.5, 2.5)
    bone = outside * (_band(d, 2.5, 4.0) + _band(d, 6.5, 8.0))
    marrow = outside * _band(d, 4.0, 6.5)
    temporal = np.clip((np.abs(x) - 35.0) / 20.0, 0, 1) * np.clip((35.0 - z) / 20.0, 0, 1)
    galea = outside * _band(d, 8.0, 10.0 + 8.0 * temporal)  # temporalis muscle laterally
    fat = outside * _band(d, 10.0 + 8.0 * temporal, 14.0 + 8.0 * temporal)
    skin = outside * _band(d, 14.0 + 8.0 * temporal, 15.5 + 8.0 * temporal)
    head = np.clip(mask + csf * 0 + outside * _band(d, 0.0, 15.5 + 8.0 * temporal), 0, 1)

    # Skull base, face and neck below the temporal lobes: a tapered extrusion of the head outline.
    level = int(round((-38.0 - origin[2]) / GRID_MM))
    outline = ndi.binary_fill_holes(ndi.binary_closing(head[:, :, level] > 0.5, iterations=4))
    lower = np.zeros(shape, dtype=np.float32)
    for k in range(level):
        shrink = int((level - k) * 0.25)
        lower[:, :, k] = ndi.binary_erosion(outline, iterations=shrink) if shrink else outline
    lower = ndi.gaussian_filter(lower, 0.6) * (1.0 - np.clip(head, 0, 1))
    lower_face = _ellipsoid(grid, (0.0, 45.0, -52.0), (48.0, 40.0, 32.0), soft=4.0) * (
        1.0 - np.clip(head + lower, 0, 1)
    )
    lower = np.clip(lower + lower_face, 0, 1)
    d_lower = _distance_outside(lower > 0.5, sigma_mm=4.0)
    neck_skin_fat = lower * _band(-d_lower, 0.0, 5.0)
    fat = fat + 0.8 * neck_skin_fat + 0.25 * (lower - neck_skin_fat)
    muscle = galea + skin + 0.2 * neck_skin_fat + 0.65 * (lower - neck_skin_fat)
    bone = bone + 0.1 * (lower - neck_skin_fat)
    fat = fat + 0.75 * marrow
    bone = bone + 0.25 * marrow

    # Eyes with orbital fat.
    eye = np.zeros(shape, dtype=np.float32)
    for sx in (-1.0, 1.0):
        globe = _ellipsoid(grid, (32.0 * sx, 58.0, -36.0), (12.0, 12.0, 12.0))
        orbit = _ellipsoid(grid, (30.0 * sx, 45.0, -36.0), (17.0, 22.0, 15.0), soft=3.0) * (1.0 - globe)
        eye = np.maximum(eye, globe)
        others = np.clip(1.0 - globe - orbit, 0, 1)
        gm, wm, deep, csf, dura, bone, muscle = (t * others for t in (gm, wm, deep, csf, dura, bone, muscle))
        fat = fat * others + orbit

    # Air: paranasal sinuses, mastoid air cells, nasopharynx.
    air = np.zeros(shape, dtype=np.float32)
    for centre, radii in [
        ((0, 72, 2), (14, 6, 10)),
        ((0, 42, -38), (10, 16, 10)),
        ((0, 14, -44), (12, 10, 9)),
        ((48, -30, -42), (8, 9, 8)),
        ((-48, -30, -42), (8, 9, 8)),
        ((0, 30, -68), (14, 14, 10)),
        ((30, 45, -62), (12, 12, 14)),
        ((-30, 45, -62), (12, 12, 14)),
    ]:
        air = np.maximum(air, _ellipsoid(grid, centre, radii))
    keep = (1.0 - air) * (1.0 - mask) + mask

    # Vessels, choroid plexus.
    filled = ndi.binary_fill_holes(ndi.binary_closing(mask > 0.3, iterations=3))
    artery = _arteries(filled.astype(np.float32), origin, rng) * np.clip(head + lower, 0, 1)
    vein = np.maximum(_dural_sinuses(shape, origin), _veins(filled.astype(np.float32), origin, rng))
    vein = vein * np.clip(head, 0, 1) * (1.0 - artery)
    choroid = (
        csf
        * np.maximum(
            _ellipsoid(grid, (27.0, -38.0, 14.0), (9.0, 12.0, 9.0), soft=4.0),
            _ellipsoid(grid, (-27.0, -38.0, 14.0), (9.0, 12.0, 9.0), soft=4.0),
        )
        * 0.7
    )

    tissues = {
        "gm": gm,
        "deep_gm": deep,
        "wm": wm,
        "csf": csf - choroid,
        "fat": fat,
        "muscle": muscle,
        "bone": bone,
        "dura": dura,
        "choroid": choroid,
        "eye": eye,
    }
    vessels = np.clip(artery + vein, 0, 1)
    for name, frac in tissues.items():
        tissues[name] = np.clip(frac * keep * (1.0 - vessels), 0.0, 1.0)
    tissues["artery"], tissues["vein"] = artery * keep, vein * keep
    total = sum(tissues.values())
    scale = np.where(total > 1.0, 1.0 / np.maximum(total, 1e-6), 1.0)  # partial volumes sum to <= 1

    direction, anisotropy = _fibre_field(grid, wm, rng)
    texture = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 0.8)
    texture /= texture.std() + 1e-6
    fractions = np.stack([tissues[name] * scale for name in TISSUES]).astype(np.float32)

    # Crop to the head (plus a margin) to keep the per-series signal volumes small.
    occupied = np.argwhere(fractions.sum(axis=0) > 0.01)
    lo = np.maximum(occupied.min(axis=0) - 2, 0)
    hi = np.minimum(occupied.max(axis=0) + 3, shape)
    crop = tuple(slice(a, b) for a, b in zip(lo, hi))
    origin_c = (origin + GRID_MM * lo).astype(np.float32)
    gx, gy, gz = (origin_c[i] + GRID_MM * np.arange(hi[i] - lo[i], dtype=np.float32) for i in range(3))
    ras = np.stack(np.meshgrid(gx, gy, gz, indexing="ij"), axis=-1).reshape(-1, 3)
    field = _air_field_ppm(ras).reshape(tuple(hi - lo))

    idx = np.argwhere(mask > 0.5)
    pick = rng.choice(len(idx), size=min(4000, len(idx)), replace=False)
    lo_ras = origin + GRID_MM * idx.min(axis=0)
    hi_ras = origin + GRID_MM * idx.max(axis=0)
    flip = np.array([-1.0, -1.0, 1.0], dtype=np.float32)
    corners = np.stack([lo_ras * flip, hi_ras * flip])
    return Anatomy(
        fractions=np.ascontiguousarray(fractions[(slice(None),) + crop]),
        fibre=np.ascontiguousarray(np.moveaxis(direction, -1, 0)[(slice(None),) + crop]).astype(np.float16),
        anisotropy=anisotropy[crop].astype(np.float16),
        texture=texture[crop].astype(np.float16),
        field_ppm=field.astype(np.float32),
        origin_ras=origin_c,
        spacing=GRID_MM,
        brain_min_lps=corners.min(axis=0).astype(np.float32),
        brain_max_lps=corners.max(axis=0).astype(np.float32),
        brain_points_lps=((origin + GRID_MM * idx[pick]) * flip).astype(np.float32),
    )


# Air-filled cavities (RAS mm centre, radius mm): sources of the susceptibility field near the skull base.
_AIR_SOURCES = np.array(
    [
        [0, 72, 2, 11],
        [0, 42, -38, 11],
        [0, 14, -44, 10],
        [48, -30, -42, 8],
        [-48, -30, -42, 8],
        [62, -22, -38, 5],
        [-62, -22, -38, 5],
    ],
    dtype=np.float32,
)


def _air_field_ppm(ras: np.ndarray) -> np.ndarray:
    """B0 offset (ppm) at RAS points: dipole fields of air spheres (delta chi ~ 9.4 ppm) along z."""
    field = np.zeros(len(ras), dtype=np.float32)
    for cx, cy, cz, r in _AIR_SOURCES:
        d = ras - np.array([cx, cy, cz], dtype=np.float32)
        dist2 = np.maximum((d**2).sum(axis=1), r * r)
        cos2 = d[:, 2] ** 2 / dist2
        field += (9.4 / 3.0) * (r**3 / dist2**1.5) * (3.0 * cos2 - 1.0)
    return field


@functools.lru_cache(maxsize=1)
def load_anatomy() -> Anatomy:
    """The shared anatomy, built on first use and cached in memory."""
    return build_anatomy()
