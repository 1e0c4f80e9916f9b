"""Brain-tissue contrast of one series: a rough brain mask per slice, tissue ratios inside it, edge profiles.

Two measurements that compare tissues *within* the brain, so that the skull, scalp fat and the scanner's gain do
not enter them (skull-stripped and non-stripped heads give similar values):

* :func:`brain_mask`: the head mask (:func:`radclass.features.contrast.head_mask`) without the tissue that CSF
  and bone (dark in every anatomical contrast) separate from the brain: threshold above the CSF/bone level,
  erode 2.5 mm to cut the thin bridges to the scalp, keep the large part nearest the head's centre, dilate back.
  Inside it, the white-matter level is the mode of the deep half; the outer band (cortex) and the tails are
  expressed relative to it (T1: white matter the brightest tissue, cortex darker; FLAIR/T2/PD: cortex at or
  above white matter; T2: a bright CSF tail; T1 after gadolinium: a bright tail of vessels and enhancement).
* :func:`edge_profile`: intensity profiles across the strongest edges inside the head (12 mm or more from its
  surface), along the gradient, in millimetres and in units of the edge's own contrast: whether the bright side
  of an edge stays bright (thick white matter in T1) or falls off (a thin cortical ribbon; sulcal CSF in T2).

Pure numpy/scipy, used by :func:`radclass.features.contrast.contrast_features`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from radclass.features.morphology import fill_holes

_EDGE_STEPS_MM = np.array([-6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0, 10.0])
_ERODE_MM = 2.5  # erosion that separates the brain from the scalp across the dark CSF/bone shell
_EDGE_DEPTH_MM = 12.0  # edges closer than this to the head surface (scalp, skull) are not profiled

BRAIN_NAMES: tuple[str, ...] = (
    "brain_above_1.05_wm",
    "brain_above_1.2_wm",
    "brain_below_0.8_wm",
    "brain_below_0.5_wm",
    "brain_outer_median",
    "brain_outer_q75",
    "brain_outer_q25",
    "brain_deep_median",
    "brain_deep_q90",
    "brain_deep_q10",
    "brain_log_wm",
    "brain_fraction_of_head",
)
EDGE_NAMES: tuple[str, ...] = (
    *(f"edge_p{int(t)}" for t in _EDGE_STEPS_MM),
    "edge_far_q25",
    "edge_far_q75",
    "edge_near_q25",
    "edge_near_q75",
    "edge_level",
    "edge_dark",
    "edge_bright",
)
TISSUE_NAMES: tuple[str, ...] = BRAIN_NAMES + EDGE_NAMES


def brain_mask(a: np.ndarray, head: np.ndarray, spacing_mm: float, threshold: float) -> np.ndarray:
    """A rough brain mask of one slice: tissue above the CSF/bone level, eroded 2.5 mm to cut the thin bridges
    to the scalp, the large part nearest the head's centre kept and dilated back, holes filled.

    (Growing erosion radii until the kept part no longer reached the scalp was tried: no better out of fold on
    the pool, and twice the cost.)

    Parameters
    ----------
    a
        The slice, normalised to its head mask's median.
    head
        Its head mask.
    spacing_mm
        In-plane pixel spacing (1 mm where unknown).
    threshold
        The slice's Otsu threshold inside the head (normalised units); tissue is above 0.6 of it.
    """
    smooth = ndimage.gaussian_filter(a, 0.7)
    tissue = head & (smooth > 0.6 * threshold)
    r = max(1, int(round(_ERODE_MM / spacing_mm)))
    cross = ndimage.generate_binary_structure(2, 1)
    core = ndimage.binary_erosion(tissue, cross, iterations=r)
    labels, n = ndimage.label(core)
    if n == 0:
        return head
    cy, cx = ndimage.center_of_mass(head)
    index = range(1, n + 1)
    sizes = np.asarray(ndimage.sum(core, labels, index))
    centres = ndimage.center_of_mass(core, labels, index)
    distance = np.array([np.hypot(c[0] - cy, c[1] - cx) for c in centres]) * spacing_mm
    keep = int(np.argmax(sizes / (1.0 + distance / 20.0))) + 1
    brain = ndimage.binary_dilation(labels == keep, cross, iterations=r + 1) & head
    return fill_holes(brain)


def tissue_features(
    slices: Sequence[np.ndarray], heads: Sequence[np.ndarray], thresholds: Sequence[float], spacing_mm: float
) -> np.ndarray:
    """The :data:`TISSUE_NAMES` values of a series from its normalised slices and their head masks."""
    return np.concatenate(
        [_brain_features(slices, heads, thresholds, spacing_mm), edge_profile(slices, heads, spacing_mm)]
    ).astype(np.float32)


def _brain_features(
    slices: Sequence[np.ndarray], heads: Sequence[np.ndarray], thresholds: Sequence[float], spacing_mm: float
) -> np.ndarray:
    values, depths, fractions = [], [], []
    for a, head, t in zip(slices, heads, thresholds):
        brain = brain_mask(a, head, spacing_mm, t)
        if brain.sum() < 100:
            continue
        values.append(a[brain])
        depths.append(ndimage.distance_transform_edt(brain)[brain])
        fractions.append(brain.sum() / max(int(head.sum()), 1))
    if not values:
        return np.zeros(len(BRAIN_NAMES), np.float32)
    v = np.concatenate(values)
    depth = np.concatenate(depths)
    v = v / max(float(np.median(v)), 1e-6)
    deep = depth >= np.quantile(depth, 0.5)
    outer = depth <= np.quantile(depth, 0.3)  # "<=": never empty, even where every depth is the same
    hist, edges = np.histogram(np.log(np.clip(v[deep], 1e-3, None)), bins=60, range=(-1.5, 1.0))
    j = int(np.argmax(ndimage.uniform_filter1d(hist.astype(float), 3)))
    wm = float(np.exp((edges[j] + edges[j + 1]) / 2))
    return np.asarray(
        [
            np.mean(v > 1.05 * wm),
            np.mean(v > 1.2 * wm),
            np.mean(v < 0.8 * wm),
            np.mean(v < 0.5 * wm),
            np.median(v[outer]) / wm,
            np.quantile(v[outer], 0.75) / wm,
            np.quantile(v[outer], 0.25) / wm,
            np.median(v[deep]) / wm,
            np.quantile(v[deep], 0.9) / wm,
            np.quantile(v[deep], 0.1) / wm,
            np.log(wm),
            np.median(fractions),
        ],
        np.float32,
    )


def edge_profile(slices: Sequence[np.ndarray], heads: Sequence[np.ndarray], spacing_mm: float) -> np.ndarray:
    """The :data:`EDGE_NAMES` values: median profiles across the strongest inner edges (see the module text)."""
    profiles = []
    for a, head in zip(slices, heads):
        smooth = ndimage.gaussian_filter(a, 0.8 if spacing_mm >= 1 else 1.0 / spacing_mm)
        gy, gx = ndimage.sobel(smooth, 0), ndimage.sobel(smooth, 1)
        strength = np.hypot(gx, gy)
        region = ndimage.distance_transform_edt(head) * spacing_mm >= _EDGE_DEPTH_MM
        if region.sum() < 100:
            continue
        ys, xs = np.nonzero(region & (strength >= np.quantile(strength[region], 0.9)) & (strength > 0))
        if len(ys) > 3000:  # a deterministic subsample keeps the cost per slice bounded
            pick = np.linspace(0, len(ys) - 1, 3000).astype(int)
            ys, xs = ys[pick], xs[pick]
        uy, ux = gy[ys, xs] / strength[ys, xs], gx[ys, xs] / strength[ys, xs]
        samples = [
            ndimage.map_coordinates(
                smooth, [ys + uy * t / spacing_mm, xs + ux * t / spacing_mm], order=1, mode="nearest"
            )
            for t in _EDGE_STEPS_MM
        ]
        profiles.append(np.stack(samples, 1))
    if not profiles:
        return np.zeros(len(EDGE_NAMES), np.float32)
    p = np.concatenate(profiles)
    i0, im, ip = (int(np.flatnonzero(_EDGE_STEPS_MM == t)[0]) for t in (0.0, -2.0, 2.0))
    contrast = p[:, ip] - p[:, im]
    keep = contrast > 0.05
    if keep.sum() < 10:
        return np.zeros(len(EDGE_NAMES), np.float32)
    p, contrast = p[keep], contrast[keep]
    relative = (p - p[:, [i0]]) / contrast[:, None]  # in units of the edge's own contrast
    return np.asarray(
        [
            *np.median(relative, 0),
            *np.quantile(relative[:, -1], [0.25, 0.75]),
            *np.quantile(relative[:, 0], [0.25, 0.75]),
            np.median(p[:, i0]),
            np.median(p[:, 0]),
            np.median(p[:, -1]),
        ],
        np.float32,
    )
