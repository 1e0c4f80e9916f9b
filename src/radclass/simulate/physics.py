"""MR signal equations, per tissue (vectors over :data:`radclass.simulate.tissues.ALL_TISSUES`) or per point.

Magnitudes are in units of the equilibrium magnetisation M0 (proton density 1). Times in ms, angles in
degrees, b in s/mm2, diffusivity in 1e-3 mm2/s, susceptibility and field offsets in ppm.
"""

from __future__ import annotations

import numpy as np

from radclass.simulate.tissues import INDEX, TissueParams

GAMMA_MHZ_PER_T = 42.577478  # proton gyromagnetic ratio / 2 pi


def spin_echo(tp: TissueParams, tr: float, te: float, etl: int = 1) -> np.ndarray:
    """(Turbo) spin echo: PD (1 - exp(-TR/T1)) exp(-TE/T2); long echo trains keep fat bright (J-coupling)."""
    t2 = tp.t2.copy()
    if etl > 2:
        t2[INDEX["fat"]] *= 2.2
    return tp.pd * (1.0 - np.exp(-tr / tp.t1)) * np.exp(-te / t2)


def inversion_recovery(tp: TissueParams, tr: float, te: float, ti: float) -> np.ndarray:
    """Magnitude IR spin echo (FLAIR, T1-FLAIR): |PD (1 - 2 exp(-TI/T1) + exp(-TR/T1))| exp(-TE/T2)."""
    mz = 1.0 - 2.0 * np.exp(-ti / tp.t1) + np.exp(-tr / tp.t1)
    return tp.pd * np.abs(mz) * np.exp(-te / tp.t2)


def spoiled_gre(tp: TissueParams, tr: float, te: float, flip: float) -> np.ndarray:
    """Spoiled gradient echo (FLASH/SPGR/T1-FFE; T2* weighting at longer TE): Ernst steady state."""
    a = np.radians(flip)
    e1 = np.exp(-tr / tp.t1)
    return tp.pd * np.sin(a) * (1.0 - e1) / (1.0 - np.cos(a) * e1) * np.exp(-te / tp.t2s)


def balanced_ssfp(tp: TissueParams, tr: float, te: float, flip: float) -> np.ndarray:
    """Balanced SSFP (TrueFISP/FIESTA) on resonance: T2/T1 weighting, bright fluid and fat."""
    a = np.radians(flip)
    e1, e2 = np.exp(-tr / tp.t1), np.exp(-tr / tp.t2)
    return tp.pd * np.sin(a) * (1.0 - e1) / (1.0 - (e1 - e2) * np.cos(a) - e1 * e2) * np.exp(-te / tp.t2)


def mprage(
    tp: TissueParams, ti: float, tr_shot: float, esp: float, flip: float, te: float, n_exc: int = 176, shots: int = 4
) -> np.ndarray:
    """MPRAGE / IR-SPGR / 3D TFE by stepping the longitudinal magnetisation through inversion, the readout train
    (centre of k-space at TI) and recovery, until the shot-to-shot steady state; magnitude signal."""
    a = np.radians(flip)
    t1 = tp.t1
    train = n_exc * esp
    before = max(ti - train / 2.0, 5.0)  # inversion -> first excitation
    after = max(tr_shot - before - train, 0.0)
    mz = np.ones_like(t1)
    centre = np.zeros_like(t1)
    for _ in range(shots):
        mz = -mz  # adiabatic inversion
        mz = 1.0 + (mz - 1.0) * np.exp(-before / t1)
        for k in range(n_exc):
            if k == n_exc // 2:
                centre = mz.copy()
            mz = mz * np.cos(a)
            mz = 1.0 + (mz - 1.0) * np.exp(-esp / t1)
        mz = 1.0 + (mz - 1.0) * np.exp(-after / t1)
    return tp.pd * np.abs(centre) * np.sin(a) * np.exp(-te / tp.t2s)


def flow_adjust(signal: np.ndarray, model: str, rng: np.random.Generator) -> np.ndarray:
    """Flow effects: spin-echo flow voids, gradient-echo inflow, saturated veins."""
    out = signal.copy()
    art, vein = INDEX["artery"], INDEX["vein"]
    if model in ("se", "ir", "dwi"):
        out[art] *= rng.uniform(0.02, 0.12)
        out[vein] *= rng.uniform(0.15, 0.6)
    elif model in ("spgr", "gre", "mprage", "scout", "bold", "swi"):
        out[art] *= rng.uniform(1.0, 2.0)
    return out


def time_of_flight(tp: TissueParams, tr: float, te: float, flip: float, rng: np.random.Generator) -> np.ndarray:
    """3D TOF: short-TR spoiled GRE saturates stationary tissue; fresh arterial spins flow in unsaturated."""
    stationary = spoiled_gre(tp, tr, te, flip)
    fresh = tp.pd * np.sin(np.radians(flip)) * np.exp(-te / tp.t2s)
    out = stationary * rng.uniform(0.4, 0.65)  # MT saturation of brain parenchyma
    out[INDEX["artery"]] = fresh[INDEX["artery"]] * rng.uniform(0.8, 1.0)
    out[INDEX["vein"]] = stationary[INDEX["vein"]] * rng.uniform(0.3, 1.2)  # venous saturation band
    out[INDEX["fat"]] = stationary[INDEX["fat"]] * rng.uniform(0.4, 0.8)
    return out


# ----------------------------------------------------------------------------------------- diffusion


def fa_to_axial_factor(fa: np.ndarray) -> np.ndarray:
    """For a cylindrical tensor with eigenvalues MD(1+2a), MD(1-a), MD(1-a): the ``a`` giving FA."""
    fa = np.clip(fa, 0.0, 0.95)
    return fa * np.sqrt(3.0 / (9.0 - 6.0 * fa**2))


DTI_DIRECTIONS = np.array(
    [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [0.7071, 0.7071, 0],
        [0.7071, 0, 0.7071],
        [0, 0.7071, 0.7071],
    ],
    dtype=np.float32,
)


def fit_tensor(
    s0: np.ndarray, dw: np.ndarray, b: float, *, principal: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Linear least-squares tensor fit of (N,) b0 and (N, 6) DW signals along :data:`DTI_DIRECTIONS`.

    Returns MD (1e-3 mm2/s), FA (from the tensor's Frobenius norms, no eigen-decomposition) and, when
    ``principal``, the principal eigenvector (N, 3)."""
    g = DTI_DIRECTIONS / np.linalg.norm(DTI_DIRECTIONS, axis=1, keepdims=True)
    design = np.stack(
        [g[:, 0] ** 2, g[:, 1] ** 2, g[:, 2] ** 2, 2 * g[:, 0] * g[:, 1], 2 * g[:, 0] * g[:, 2], 2 * g[:, 1] * g[:, 2]],
        axis=1,
    ) * (b * 1e-3)
    eps = 1e-6
    y = np.log(np.maximum(s0[:, None], eps)) - np.log(np.maximum(dw, eps))
    c = (y @ np.linalg.pinv(design).T).astype(np.float32)  # Dxx, Dyy, Dzz, Dxy, Dxz, Dyz
    md = np.clip(c[:, :3].mean(axis=1), 0.0, 4.0)
    norm2 = (c[:, :3] ** 2).sum(axis=1) + 2 * (c[:, 3:] ** 2).sum(axis=1)
    dev2 = ((c[:, :3] - md[:, None]) ** 2).sum(axis=1) + 2 * (c[:, 3:] ** 2).sum(axis=1)
    fa = np.sqrt(1.5 * dev2 / np.maximum(norm2, 1e-9))
    vec = None
    if principal:
        d = np.empty((len(c), 3, 3), dtype=np.float32)
        d[:, 0, 0], d[:, 1, 1], d[:, 2, 2] = c[:, 0], c[:, 1], c[:, 2]
        d[:, 0, 1] = d[:, 1, 0] = c[:, 3]
        d[:, 0, 2] = d[:, 2, 0] = c[:, 4]
        d[:, 1, 2] = d[:, 2, 1] = c[:, 5]
        vec = np.linalg.eigh(d)[1][:, :, 2]
    return md, np.clip(fa, 0.0, 1.0), vec


# ------------------------------------------------------------------------------------------ B0 field


def ppm_to_hz(ppm: np.ndarray, field_strength: float) -> np.ndarray:
    return ppm * GAMMA_MHZ_PER_T * field_strength
