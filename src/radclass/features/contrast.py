"""Tissue-contrast signature of a series from its pixels: site-independent intensity physics, not appearance.

The signature describes *how tissues relate to each other* inside the imaged body part, after a head/body mask
and a robust normalisation to the mask's median, so that scanner gain, bit depth, skull stripping and vendor
reconstruction change it little:

* the distribution of normalised intensities inside the mask (log-quantiles, a coarse log-histogram, the share
  of very dark and very bright voxels): CSF dark or bright, a heavy bright tail from fat or enhancing vessels;
* the same statistics by depth inside the mask (outer band: scalp fat / cortex and CSF; inner core: ventricles
  and deep white matter), which separates T1 (CSF dark, core dark-ish), T2 (ventricles bright), FLAIR (CSF
  dark but grey matter and lesions bright) and PD (flat);
* image-formation traits: background noise and ghosting relative to the signal (EPI), edge sharpness, signed
  or integer-coded values (phase and parametric maps), the physical scale of the values (ADC in 10^-6 mm^2/s);
* tissue ratios inside a rough brain mask and profiles across inner edges (:mod:`radclass.features.tissue`);
* optionally the geometry (voxel size, slice count, time points), which is acquisition physics too.

Pure numpy/scipy: it runs at inference without torch. :data:`FEATURE_NAMES` is the column order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage

from radclass.features.morphology import fill_holes, otsu_threshold
from radclass.features.tissue import TISSUE_NAMES, tissue_features

if TYPE_CHECKING:
    from radclass.io.series import Series

_QUANTILES = (0.01, 0.05, 0.10, 0.25, 0.75, 0.90, 0.95, 0.99, 0.999)
_LOG_BINS = np.linspace(-3.0, 2.0, 11)  # log(intensity / mask median): 10 bins
_BANDS = ((0.0, 0.15), (0.15, 0.5), (0.5, 1.01))  # normalised depth inside the mask: outer, middle, core
_EPS = 1e-6
_DEEP = 0.35  # normalised depth from which a voxel counts as deep brain (skull, scalp and most cortex excluded)
_PROFILE = np.linspace(0.0, 1.0, 9)  # depth bins of the intensity profile


@dataclass(frozen=True)
class PixelGeometry:
    """What the geometry says about an acquisition (millimetres; ``None`` where unknown, e.g. PNG).

    Parameters
    ----------
    row_spacing, col_spacing
        In-plane pixel spacing.
    slice_thickness
        Slice thickness or spacing along the slice axis.
    n_slices
        Slices (frames) of one volume.
    n_volumes
        Time points / diffusion directions (1 for a 3D volume).
    """

    row_spacing: float | None = None
    col_spacing: float | None = None
    slice_thickness: float | None = None
    n_slices: int | None = None
    n_volumes: int | None = None


def _names() -> tuple[str, ...]:
    names = [f"q{int(q * 1000):03d}" for q in _QUANTILES]
    names += [f"hist{i}" for i in range(len(_LOG_BINS) - 1)]
    names += ["frac_below_0.25", "frac_below_0.5", "frac_above_1.5", "frac_above_2", "frac_above_3", "skew", "iqr"]
    for band in ("outer", "middle", "core"):
        names += [f"{band}_median", f"{band}_q10", f"{band}_q90", f"{band}_dark", f"{band}_bright"]
    names += ["core_over_outer", "middle_over_outer", "core_over_middle"]
    names += [
        "deep_q05",
        "deep_q25",
        "deep_q75",
        "deep_q95",
        "deep_skew",
        "deep_mode_position",
        "deep_w_dark",
        "deep_w_mid",
        "deep_w_bright",
        "deep_mu_dark",
        "deep_mu_mid",
        "deep_mu_bright",
    ]
    names += [f"profile{i}" for i in range(len(_PROFILE) - 1)]
    names += ["wm_above_1.05", "wm_above_1.3", "wm_above_1.6", "wm_below_0.8", "wm_percentile"]
    names += [
        "mask_fraction",
        "background_level",
        "background_noise",
        "edge_strength",
        "fine_texture",
        "negative_fraction",
        "zero_fraction_in_mask",
        "integer_valued",
        "log10_median_value",
        "n_levels",
    ]
    names += TISSUE_NAMES
    names += GEOMETRY_NAMES
    return tuple(names)


GEOMETRY_NAMES: tuple[str, ...] = (
    "log_inplane_mm",
    "log_thickness_mm",
    "anisotropy",
    "log_slices",
    "log_volumes",
    "has_geometry",
)
FEATURE_NAMES: tuple[str, ...] = _names()
INTENSITY_NAMES: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if n not in GEOMETRY_NAMES)


def head_mask(slice_: np.ndarray) -> np.ndarray:
    """Foreground (head/body) mask of one slice: Otsu threshold of the smoothed image, holes filled, the largest
    connected parts kept."""
    a = np.nan_to_num(np.asarray(slice_, np.float64))
    if a.size == 0 or np.ptp(a) <= 0:
        return np.zeros(a.shape, bool)
    smooth = ndimage.uniform_filter(a, size=3)
    lo, hi = np.percentile(smooth, [0.5, 99.5])
    clipped = np.clip(smooth, lo, hi)
    t = otsu_threshold(clipped.ravel())
    mask = clipped > lo + 0.5 * (t - lo)  # half-way to Otsu: keeps dark tissue (CSF in T1/FLAIR) in the head
    mask = ndimage.binary_opening(mask, iterations=1)
    mask = fill_holes(mask)
    labels, n = ndimage.label(mask)
    if n > 1:
        sizes = ndimage.sum(mask, labels, range(1, n + 1))
        keep = np.flatnonzero(sizes >= 0.1 * sizes.max()) + 1
        mask = np.isin(labels, keep)
    return mask


def _depth(mask: np.ndarray) -> np.ndarray:
    """Distance to the mask's edge, scaled to 0-1 within the slice."""
    d = ndimage.distance_transform_edt(mask)
    return d / d.max() if d.max() > 0 else d


def contrast_features(slices: Sequence[np.ndarray], geometry: PixelGeometry | None = None) -> np.ndarray:
    """The signature (:data:`FEATURE_NAMES` order, float32) of a series from some of its slices.

    Parameters
    ----------
    slices
        2D slices in stored units (e.g. :func:`radclass.io.pixels.load_slices`), preferably spread over the
        volume.
    geometry
        Voxel size and counts; ``None`` (PNG) leaves the geometry features at their "unknown" values.

    Raises
    ------
    ValueError
        When no slice has a foreground to describe.
    """
    values, depths, background, edges, fine, raw, variation = [], [], [], [], [], [], []
    normalised, heads, thresholds = [], [], []
    for s in slices:
        a = np.nan_to_num(np.asarray(s, np.float64))
        if a.ndim != 2 or min(a.shape) < 8:
            continue
        mask = head_mask(a)
        if mask.sum() < 0.01 * mask.size or mask.sum() < 50:
            continue
        values.append(a[mask])
        depths.append(_depth(mask)[mask])
        background.append(a[~ndimage.binary_dilation(mask, iterations=3)])
        gy, gx = np.gradient(a)
        edges.append(np.hypot(gx, gy)[ndimage.binary_erosion(mask, iterations=2)])
        fine.append(np.abs(a - ndimage.uniform_filter(a, size=3))[mask])
        local = ndimage.uniform_filter(a, size=5)
        local_sd = np.sqrt(np.clip(ndimage.uniform_filter(a * a, size=5) - local * local, 0.0, None))
        variation.append((local_sd / np.maximum(np.abs(local), _EPS))[mask])
        raw.append(a.size)
        level = float(np.median(a[mask]))
        n = a / level if level > _EPS else a
        normalised.append(n)
        heads.append(mask)
        inside = ndimage.gaussian_filter(n, 0.7)[mask]
        thresholds.append(otsu_threshold(np.clip(inside, 0.0, np.quantile(inside, 0.99))))
    if not values:
        raise ValueError("no slice has a foreground to describe (blank or too small images)")
    v = np.concatenate(values)
    depth = np.concatenate(depths)
    median = float(np.median(v))
    scale = median if abs(median) > _EPS else float(np.mean(np.abs(v))) + _EPS
    x = v / scale
    logx = np.log(np.clip(x, 1e-3, None))
    f: list[float] = list(np.log(np.clip(np.quantile(x, _QUANTILES), 1e-3, None)))
    hist, _ = np.histogram(logx, bins=_LOG_BINS)
    f += list(hist / max(len(x), 1))
    q25, q75 = np.quantile(x, [0.25, 0.75])
    sd = float(np.std(x)) + _EPS
    f += [
        float(np.mean(x < 0.25)),
        float(np.mean(x < 0.5)),
        float(np.mean(x > 1.5)),
        float(np.mean(x > 2.0)),
        float(np.mean(x > 3.0)),
        float(np.mean((x - x.mean()) ** 3) / sd**3),
        float(q75 - q25),
    ]
    band_medians = []
    for lo, hi in _BANDS:
        b = x[(depth >= lo) & (depth < hi)]
        if len(b) < 10:
            b = x
        m = float(np.median(b))
        band_medians.append(m)
        f += [
            m,
            float(np.quantile(b, 0.1)),
            float(np.quantile(b, 0.9)),
            float(np.mean(b < 0.5)),
            float(np.mean(b > 1.5)),
        ]
    outer, middle, core = (max(m, 1e-3) for m in band_medians)
    f += [np.log(core / outer), np.log(middle / outer), np.log(core / middle)]
    f += _deep_features(logx[depth >= _DEEP] if np.sum(depth >= _DEEP) >= 50 else logx)
    profile = [
        float(np.median(logx[(depth >= lo) & (depth < hi)])) if np.sum((depth >= lo) & (depth < hi)) else 0.0
        for lo, hi in zip(_PROFILE[:-1], _PROFILE[1:])
    ]
    f += [p - profile[-1] for p in profile]  # relative to the deepest bin
    f += _white_matter_reference(x, depth, np.concatenate(variation))
    bg = np.concatenate(background) / scale if background else np.zeros(1)
    bg = bg if len(bg) else np.zeros(1)
    e = np.concatenate(edges) / scale if edges else np.zeros(1)
    e = e if len(e) else np.zeros(1)
    fine_v = np.concatenate(fine) / scale
    f += [
        len(v) / max(sum(raw), 1),
        float(np.median(np.abs(bg))),
        float(np.std(bg)),
        float(np.median(e)),
        float(np.median(fine_v)),
        float(np.mean(v < 0)),
        float(np.mean(v == 0)),
        float(np.all(np.abs(v[:5000] - np.round(v[:5000])) < 1e-6)),
        float(np.log10(abs(median) + 1.0)),
        float(np.log10(len(np.unique(v[:20000])) + 1.0)),
    ]
    f += list(tissue_features(normalised, heads, thresholds, _inplane_mm(geometry)))
    f += list(geometry_features(geometry))
    return np.asarray(f, np.float32)


def _inplane_mm(geometry: PixelGeometry | None) -> float:
    """Mean in-plane spacing, 1 mm where unknown (PNG)."""
    spacing = [s for s in (geometry.row_spacing, geometry.col_spacing) if s and s > 0] if geometry else []
    return float(np.mean(spacing)) if spacing else 1.0


def _white_matter_reference(x: np.ndarray, depth: np.ndarray, variation: np.ndarray) -> list[float]:
    """Parenchyma relative to white matter, found as the most homogeneous deep tissue (lowest local coefficient
    of variation at depth >= 0.4; white matter forms the largest uniform compartment of an adult brain).

    Few voxels outshine white matter in T1 (fat, vessels; more after gadolinium), many in FLAIR, T2 and PD
    (grey matter, lesions, CSF in T2)."""
    inner = depth >= 0.15
    tissue = inner & (x > 0.3)
    deep = tissue & (depth >= 0.4)
    if deep.sum() < 50 or tissue.sum() < 50:
        return [0.0, 0.0, 0.0, 0.0, 0.5]
    homogeneous = deep & (variation <= np.quantile(variation[deep], 0.2))
    wm = float(np.median(x[homogeneous])) if homogeneous.any() else float(np.median(x[deep]))
    p = x[tissue]
    return [
        float(np.mean(p > 1.05 * wm)),
        float(np.mean(p > 1.3 * wm)),
        float(np.mean(p > 1.6 * wm)),
        float(np.mean(p < 0.8 * wm)),
        float(np.mean(p < wm)),
    ]


def _deep_features(logx: np.ndarray) -> list[float]:
    """Shape of the deep-brain intensity distribution: where its mode lies between its tails (white matter is
    bright in T1, dark in T2), and a three-class Gaussian mixture (CSF / grey / white matter, in the order the
    contrast puts them)."""
    x = logx[logx > -4.0]
    if len(x) < 50:
        x = logx
    q05, q25, q75, q95 = np.quantile(x, [0.05, 0.25, 0.75, 0.95])
    sd = float(np.std(x)) + _EPS
    skew = float(np.clip(np.mean((x - x.mean()) ** 3) / sd**3, -10, 10))
    hist, edges = np.histogram(x, bins=40, range=(q05 - 0.2, q95 + 0.2))
    hist = ndimage.uniform_filter1d(hist.astype(float), 3)
    j = int(np.argmax(hist))
    mode_position = float(np.clip(((edges[j] + edges[j + 1]) / 2 - q05) / (q95 - q05 + _EPS), -1.0, 2.0))
    w, mu = _mixture(x)
    return [q05, q25, q75, q95, skew, mode_position, *w, *mu]


def _mixture(x: np.ndarray, n: int = 3) -> tuple[list[float], list[float]]:
    """Weights and means (sorted by mean) of an ``n``-class 1D Gaussian mixture (deterministic subsample)."""
    from sklearn.mixture import GaussianMixture

    sample = x[:: max(1, len(x) // 20000)][:, None]
    if len(np.unique(sample)) < n:
        return [1.0 / n] * n, [float(np.median(x))] * n
    gm = GaussianMixture(n, random_state=0, max_iter=100).fit(sample)
    order = np.argsort(gm.means_.ravel())
    return [float(v) for v in gm.weights_[order]], [float(v) for v in gm.means_.ravel()[order]]


def geometry_features(geometry: PixelGeometry | None) -> np.ndarray:
    """The :data:`GEOMETRY_NAMES` values (``-1`` where unknown)."""
    g = geometry or PixelGeometry()
    spacing = [s for s in (g.row_spacing, g.col_spacing) if s and s > 0]
    inplane = float(np.mean(spacing)) if spacing else None
    thick = g.slice_thickness if g.slice_thickness and g.slice_thickness > 0 else None
    return np.asarray(
        [
            np.log(inplane) if inplane else -1.0,
            np.log(thick) if thick else -1.0,
            np.log(thick / inplane) if thick and inplane else -1.0,
            np.log(g.n_slices) if g.n_slices and g.n_slices > 0 else -1.0,
            np.log(g.n_volumes) if g.n_volumes and g.n_volumes > 0 else -1.0,
            1.0 if inplane else 0.0,
        ],
        np.float32,
    )


def series_geometry(header: dict[str, Any], n_frames: int, fmt: str) -> PixelGeometry:
    """The :class:`PixelGeometry` of a series from its scan header (``Series.header``) and frame count.

    The largest of the three spacings is taken as the slice thickness, so the figures do not depend on the
    plane the voxels are stored in.
    """
    from radclass.values import as_number, as_text

    if fmt == "image":
        return PixelGeometry()
    spacing = [as_number(v) for v in as_text(header.get("pixel_spacing")).split("\\")[:2]]
    sizes = sorted(s for s in [*spacing, as_number(header.get("slice_thickness"))] if s and s > 0)
    n_volumes = max(int(as_number(header.get("temporal_positions")) or 1), 1)
    n_slices = max(int(n_frames) // n_volumes, 1)
    padded = (sizes + [None, None, None])[:3] if len(sizes) >= 2 else [None, None, None]
    return PixelGeometry(padded[0], padded[1], padded[2], n_slices, n_volumes)


DEFAULT_SLICES = 12  # slices per series read for the signature


def series_signature(series: Series, slices: int = DEFAULT_SLICES) -> np.ndarray:
    """The signature of a :class:`radclass.io.series.Series` (reads ``slices`` evenly spaced slices).

    Raises
    ------
    radclass.io.pixels.PixelReadError
        When the pixels cannot be decoded.
    ValueError
        When no slice has a foreground.
    """
    from radclass.io.pixels import load_slices

    return signature_of_slices(load_slices(series, slices), series)


def signature_of_slices(slices: Sequence[np.ndarray], series: Series) -> np.ndarray:
    """The signature of already decoded slices of ``series`` (its header gives the geometry)."""
    return contrast_features(slices, series_geometry(series.header, series.n_frames, series.format))
