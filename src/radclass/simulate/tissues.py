"""Tissue MR properties drawn from published ranges at 1.5 T and 3 T.

Relaxation times (ms) follow Wansapura et al. 1999 (JMRI 9:531), Stanisz et al. 2005 (MRM 54:507; brain T1
at the lower, inversion-recovery end of the reported spread), Lu et al.
2005 (blood), Rooney et al. 2007 (MRM 57:308) and Peters et al. 2007 (T2*); diffusivities (1e-3 mm2/s) and
perfusion (ml/100 g/min) are typical adult values; gadolinium relaxivity r1 ~ 4-5 /mM/s at 1.5 T and
3.5-4.5 /mM/s at 3 T. Each property is drawn uniformly inside its range, interpolated linearly between the
1.5 T and 3 T ranges for the series' field strength, so every simulated subject/scanner differs a little.

Besides the anatomy's tissues (:data:`radclass.simulate.anatomy.TISSUES`) there are three lesion
compartments: ``lesion`` (tumour core / demyelinating plaque / infarct), ``rim`` (enhancing tumour rim) and
``edema``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radclass.simulate.anatomy import TISSUES

LESION_TISSUES: tuple[str, ...] = ("lesion", "rim", "edema")
ALL_TISSUES: tuple[str, ...] = TISSUES + LESION_TISSUES
INDEX = {name: i for i, name in enumerate(ALL_TISSUES)}

# property: tissue -> ((lo, hi) at 1.5 T, (lo, hi) at 3 T)
_Range = tuple[tuple[float, float], tuple[float, float]]
_T1: dict[str, _Range] = {
    "gm": ((1050, 1250), (1300, 1700)),
    "deep_gm": ((880, 1080), (1100, 1400)),
    "wm": ((580, 720), (780, 950)),
    "csf": ((3800, 4400), (3800, 4400)),
    "fat": ((250, 300), (360, 400)),
    "muscle": ((950, 1100), (1300, 1450)),
    "bone": ((250, 400), (300, 450)),
    "dura": ((900, 1150), (1100, 1400)),
    "artery": ((1350, 1500), (1650, 1950)),
    "vein": ((1350, 1500), (1650, 1950)),
    "choroid": ((1000, 1300), (1300, 1700)),
    "eye": ((3500, 4200), (3600, 4300)),
    "lesion": ((1300, 1900), (1700, 2500)),
    "rim": ((1000, 1300), (1300, 1700)),
    "edema": ((1100, 1400), (1400, 1900)),
}
_T2: dict[str, _Range] = {
    "gm": ((85, 105), (80, 110)),
    "deep_gm": ((70, 90), (55, 75)),
    "wm": ((65, 80), (60, 75)),
    "csf": ((1400, 2200), (1400, 2200)),
    "fat": ((60, 90), (55, 80)),
    "muscle": ((35, 50), (30, 45)),
    "bone": ((1, 3), (1, 3)),
    "dura": ((50, 70), (45, 65)),
    "artery": ((200, 260), (120, 180)),
    "vein": ((120, 180), (40, 80)),
    "choroid": ((100, 150), (90, 140)),
    "eye": ((1000, 1600), (1000, 1600)),
    "lesion": ((160, 300), (150, 280)),
    "rim": ((100, 140), (90, 130)),
    "edema": ((120, 180), (110, 170)),
}
_T2S: dict[str, _Range] = {
    "gm": ((60, 85), (45, 62)),
    "deep_gm": ((40, 55), (22, 38)),
    "wm": ((50, 62), (38, 50)),
    "csf": ((400, 900), (300, 700)),
    "fat": ((25, 40), (15, 30)),
    "muscle": ((25, 35), (20, 30)),
    "bone": ((0.5, 1.0), (0.3, 0.8)),
    "dura": ((30, 45), (20, 35)),
    "artery": ((100, 150), (50, 80)),
    "vein": ((30, 60), (15, 30)),
    "choroid": ((50, 80), (35, 55)),
    "eye": ((400, 800), (300, 700)),
    "lesion": ((90, 150), (70, 120)),
    "rim": ((50, 80), (35, 60)),
    "edema": ((80, 120), (60, 100)),
}
_PD: dict[str, tuple[float, float]] = {
    "gm": (0.78, 0.82),
    "deep_gm": (0.76, 0.8),
    "wm": (0.68, 0.72),
    "csf": (0.97, 1.0),
    "fat": (0.9, 1.0),
    "muscle": (0.7, 0.8),
    "bone": (0.05, 0.12),
    "dura": (0.55, 0.7),
    "artery": (0.85, 0.9),
    "vein": (0.85, 0.9),
    "choroid": (0.85, 0.95),
    "eye": (0.97, 1.0),
    "lesion": (0.85, 0.95),
    "rim": (0.8, 0.9),
    "edema": (0.85, 0.93),
}
_ADC: dict[str, tuple[float, float]] = {  # mean diffusivity, 1e-3 mm2/s
    "gm": (0.75, 0.92),
    "deep_gm": (0.68, 0.82),
    "wm": (0.65, 0.8),
    "csf": (2.8, 3.2),
    "fat": (0.01, 0.05),
    "muscle": (1.3, 1.6),
    "bone": (0.1, 0.3),
    "dura": (0.9, 1.2),
    "artery": (1.8, 2.6),
    "vein": (1.8, 2.6),
    "choroid": (1.2, 1.6),
    "eye": (2.8, 3.1),
    "lesion": (1.2, 1.9),
    "rim": (0.8, 1.1),
    "edema": (1.2, 1.6),
}
_CHI: dict[str, tuple[float, float]] = {  # susceptibility relative to CSF, ppm
    "gm": (0.01, 0.03),
    "deep_gm": (0.06, 0.15),
    "wm": (-0.04, -0.02),
    "csf": (0.0, 0.0),
    "fat": (0.6, 0.7),
    "muscle": (0.0, 0.02),
    "bone": (-2.0, -1.5),
    "dura": (0.0, 0.02),
    "artery": (0.0, 0.05),
    "vein": (0.3, 0.45),
    "choroid": (0.0, 0.03),
    "eye": (0.0, 0.0),
    "lesion": (0.0, 0.05),
    "rim": (0.05, 0.2),
    "edema": (0.0, 0.01),
}
_CBF: dict[str, tuple[float, float]] = {  # ml/100 g/min
    "gm": (50, 80),
    "deep_gm": (45, 70),
    "wm": (15, 30),
    "choroid": (60, 120),
    "rim": (60, 140),
    "edema": (10, 25),
    "lesion": (5, 20),
    "muscle": (3, 8),
}
_CBV: dict[str, tuple[float, float]] = {  # blood volume fraction
    "gm": (0.04, 0.06),
    "deep_gm": (0.035, 0.05),
    "wm": (0.015, 0.025),
    "artery": (1.0, 1.0),
    "vein": (1.0, 1.0),
    "choroid": (0.1, 0.2),
    "rim": (0.06, 0.12),
    "lesion": (0.01, 0.03),
    "edema": (0.01, 0.02),
    "dura": (0.05, 0.1),
    "muscle": (0.02, 0.04),
}
_GAD_MM: dict[str, tuple[float, float]] = {  # tissue gadolinium concentration after a standard dose, mM
    "artery": (0.6, 1.4),
    "vein": (0.5, 1.2),
    "dura": (0.2, 0.5),
    "choroid": (0.4, 0.9),
    "rim": (0.3, 1.0),
    "muscle": (0.08, 0.2),
    "edema": (0.0, 0.03),
    "lesion": (0.0, 0.1),
}


@dataclass(frozen=True)
class TissueParams:
    """Per-tissue property vectors, ordered like :data:`ALL_TISSUES`."""

    field_strength: float
    t1: np.ndarray  # ms
    t2: np.ndarray  # ms
    t2s: np.ndarray  # ms
    pd: np.ndarray  # relative proton density
    adc: np.ndarray  # 1e-3 mm2/s
    chi: np.ndarray  # ppm relative to CSF
    cbf: np.ndarray  # ml/100 g/min
    cbv: np.ndarray  # fraction
    gad: np.ndarray  # mM after contrast injection
    r1: float  # gadolinium relaxivity, /mM/s
    wm_fa: float  # FA in coherent white matter

    def post_contrast(self) -> TissueParams:
        """T1 (and slightly T2) shortened by gadolinium: R1 = R1_0 + r1 C."""
        t1 = 1000.0 / (1000.0 / self.t1 + self.r1 * self.gad)
        t2 = 1000.0 / (1000.0 / self.t2 + 5.0 * self.gad)
        return TissueParams(**{**self.__dict__, "t1": t1, "t2": t2, "gad": np.zeros_like(self.gad)})


def _field_range(spec: _Range, b0: float, u: float) -> float:
    w = float(np.clip((b0 - 1.5) / 1.5, -0.5, 1.0))
    (lo15, hi15), (lo3, hi3) = spec
    lo, hi = lo15 + w * (lo3 - lo15), hi15 + w * (hi3 - hi15)
    return lo + u * (hi - lo)


def sample_tissues(field_strength: float, rng: np.random.Generator, *, lesion_kind: str | None = None) -> TissueParams:
    """Draw one subject's tissue properties at ``field_strength`` (tesla).

    ``lesion_kind`` adapts the lesion compartments: ``"infarct"`` restricts diffusion, ``"ms"`` gives a
    plaque without necrosis, anything else a tumour with necrotic core.
    """
    n = len(ALL_TISSUES)
    vec = {k: np.zeros(n, dtype=np.float32) for k in ("t1", "t2", "t2s", "pd", "adc", "chi", "cbf", "cbv", "gad")}
    for name, i in INDEX.items():
        vec["t1"][i] = _field_range(_T1[name], field_strength, rng.random())
        vec["t2"][i] = _field_range(_T2[name], field_strength, rng.random())
        vec["t2s"][i] = min(_field_range(_T2S[name], field_strength, rng.random()), vec["t2"][i])
        for key, table in (("pd", _PD), ("adc", _ADC), ("chi", _CHI), ("cbf", _CBF), ("cbv", _CBV), ("gad", _GAD_MM)):
            lo, hi = table.get(name, (0.0, 0.0))
            vec[key][i] = rng.uniform(lo, hi)
    if lesion_kind == "infarct":
        i = INDEX["lesion"]
        vec["adc"][i], vec["t2"][i], vec["t1"][i] = (
            rng.uniform(0.35, 0.55),
            rng.uniform(100, 150),
            vec["t1"][INDEX["gm"]] * 1.15,
        )
        vec["gad"][i], vec["cbf"][i] = 0.0, rng.uniform(0, 10)
    elif lesion_kind == "ms":
        i = INDEX["lesion"]
        vec["t2"][i], vec["adc"][i] = rng.uniform(110, 160), rng.uniform(0.9, 1.2)
        vec["t1"][i] = vec["t1"][INDEX["wm"]] * rng.uniform(1.2, 1.6)
        vec["gad"][i] = rng.uniform(0.0, 0.4)  # active plaques enhance
    r1 = rng.uniform(4.0, 5.2) if field_strength < 2.5 else rng.uniform(3.5, 4.5)
    return TissueParams(field_strength=field_strength, r1=float(r1), wm_fa=float(rng.uniform(0.45, 0.75)), **vec)
