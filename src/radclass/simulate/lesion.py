"""Optional focal lesions: an enhancing tumour with necrosis and oedema, MS plaques, or an acute infarct.

A lesion is analytic (ellipsoids with a lobulated radius), evaluated at sample points, so it costs nothing
when absent and needs no volume of its own. It replaces brain parenchyma (never CSF or extra-cerebral tissue).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LESION_KINDS: tuple[str, ...] = ("tumour", "ms", "infarct")
_RAS_TO_LPS = np.array([-1.0, -1.0, 1.0])


@dataclass(frozen=True)
class Lesion:
    """Lesion blobs in LPS mm: centres (B, 3), radii (B,), and the tumour's rim/oedema widths."""

    kind: str
    centres: np.ndarray
    radii: np.ndarray
    rim_mm: float
    edema_mm: float
    lobes: np.ndarray  # (3, 3): random directions for a lobulated outline

    def fractions(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) fractions of lesion core, enhancing rim and oedema at LPS points (N, 3)."""
        out = np.zeros((points.shape[0], 3), dtype=np.float32)
        for centre, radius in zip(self.centres, self.radii):
            d = points - centre.astype(np.float32)
            dist = np.linalg.norm(d, axis=1)
            unit = d / np.maximum(dist, 1e-3)[:, None]
            wobble = 1.0 + 0.18 * np.tanh(unit @ self.lobes).sum(axis=1) / 3.0
            r = dist / wobble
            core = np.clip(radius - r + 0.5, 0.0, 1.0)
            rim = np.clip(radius + self.rim_mm - r + 0.5, 0.0, 1.0) - core
            edema = np.clip(radius + self.rim_mm + self.edema_mm - r + 0.5, 0.0, 1.0) - core - rim
            out[:, 0] = np.maximum(out[:, 0], core)
            out[:, 1] = np.maximum(out[:, 1], rim)
            out[:, 2] = np.maximum(out[:, 2], edema)
        return np.clip(out, 0.0, 1.0)


def sample_lesion(rng: np.random.Generator, kind: str | None = None) -> Lesion:
    """A random lesion in the cerebral white matter / cortex of the MNI-sized head (positions drawn in RAS)."""
    kind = kind or LESION_KINDS[int(rng.choice(3, p=[0.5, 0.3, 0.2]))]
    lobes = rng.normal(size=(3, 3)) * 2.0
    side = rng.choice([-1.0, 1.0])
    if kind == "tumour":
        centre = np.array([side * rng.uniform(18, 40), rng.uniform(-50, 30), rng.uniform(0, 40)])
        return Lesion(
            kind,
            centre[None] * _RAS_TO_LPS,
            np.array([rng.uniform(6, 16)]),
            rng.uniform(2.5, 5.0),
            rng.uniform(6, 18),
            lobes,
        )
    if kind == "ms":
        n = int(rng.integers(3, 9))
        centres = np.stack(
            [
                np.array([rng.choice([-1, 1]) * rng.uniform(12, 30), rng.uniform(-45, 25), rng.uniform(5, 32)])
                for _ in range(n)
            ]
        )
        return Lesion(kind, centres * _RAS_TO_LPS, rng.uniform(2.5, 6.0, size=n), 0.0, 0.0, lobes)
    # infarct: wedge-like cortical/subcortical region in an MCA territory
    centre = np.array([side * rng.uniform(35, 50), rng.uniform(-30, 15), rng.uniform(0, 30)])
    return Lesion("infarct", centre[None] * _RAS_TO_LPS, np.array([rng.uniform(8, 18)]), 0.0, 0.0, lobes)
