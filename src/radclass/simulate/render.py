"""Render one series: anatomy sampled on a slice stack -> signal equations -> spatial and k-space artefacts ->
pixel values in the units a scanner would store.

Used by both :func:`radclass.simulate.simulate_slices` (fast, square slices) and
:func:`radclass.simulate.write_series` (DICOM). Stored units: magnitude images are arbitrary positive numbers
scaled like vendors do (a few hundred to a few thousand); phase images span -4096..4095 (Siemens) or
radians x 1000; ADC is in 1e-6 mm2/s, FA x 1000, CBF in ml/100 g/min, T2 maps in ms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from radclass.simulate import physics
from radclass.simulate.anatomy import TISSUES, Anatomy, load_anatomy
from radclass.simulate.artifacts import Artifacts, add_noise, bias_field, kspace_effects, sample_artifacts
from radclass.simulate.geometry import Stack, rotation
from radclass.simulate.lesion import Lesion, sample_lesion
from radclass.simulate.protocols import Protocol
from radclass.simulate.tissues import INDEX, TissueParams, sample_tissues

_PARENCHYMA = [INDEX["gm"], INDEX["deep_gm"], INDEX["wm"]]
_PARENCHYMA_ANAT = np.array(_PARENCHYMA)


@dataclass(frozen=True)
class Subject:
    """One simulated head: tissue properties, optional lesion, head pose and scanner shim."""

    tissues: TissueParams
    lesion: Lesion | None
    pose: np.ndarray  # 3x3 rotation of the head in the scanner
    shift: np.ndarray  # mm
    scale: float  # head size relative to MNI152
    shim: np.ndarray  # B0 shim residual coefficients (ppm)


def sample_subject(
    rng: np.random.Generator, field_strength: float, *, lesion_probability: float = 0.3, max_rotation: float = 8.0
) -> Subject:
    """Draw a head: tissues at ``field_strength``, a lesion with ``lesion_probability``, a pose and a shim."""
    lesion = sample_lesion(rng) if rng.random() < lesion_probability else None
    tissues = sample_tissues(field_strength, rng, lesion_kind=lesion.kind if lesion else None)
    return Subject(
        tissues=tissues,
        lesion=lesion,
        pose=rotation(rng.normal(size=3), rng.uniform(0.0, max_rotation)).astype(np.float32),
        shift=rng.normal(0.0, 4.0, size=3).astype(np.float32),
        scale=float(rng.uniform(0.9, 1.08)),
        shim=np.concatenate([rng.normal(0.0, 0.05, 1), rng.normal(0.0, 0.08, 3)]).astype(np.float32),
    )


class Sampler:
    """Signal volumes on the anatomy grid (cropped to where the points fall), sampled at a series' points.

    A separable contrast is one matrix-vector product over tissue fractions followed by one trilinear
    interpolation per image, whatever the number of tissues: that keeps :func:`simulate_slices` fast.
    """

    def __init__(self, anatomy: Anatomy, subject: Subject, points: np.ndarray) -> None:
        self.anatomy, self.subject = anatomy, subject
        centre = anatomy.brain_center_lps
        head = ((points - centre - subject.shift) / subject.scale) @ subject.pose + centre  # R^T (p - c - t)/s + c
        self.head_points = head.astype(np.float32)
        coords = anatomy.voxel_coords(self.head_points)
        shape = np.array(anatomy.shape)
        lo = np.clip(np.floor(coords.min(axis=0)).astype(int) - 1, 0, shape - 1)
        hi = np.clip(np.ceil(coords.max(axis=0)).astype(int) + 2, lo + 1, shape)
        self.crop = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
        self.coords = (coords - lo).T.copy()  # (3, N) in crop voxels
        self.fractions = anatomy.fractions[(slice(None),) + self.crop]
        self._fields: dict[str, np.ndarray] = {}
        self._lesion = self._lesion_box(lo) if subject.lesion is not None else None

    def _lesion_box(self, lo: np.ndarray) -> tuple[tuple[slice, ...], np.ndarray, np.ndarray] | None:
        """Lesion fractions (3, box) on the part of the crop the lesion covers, and parenchyma keep factors."""
        lesion = self.subject.lesion
        assert lesion is not None
        reach = lesion.radii.max() * 1.3 + lesion.rim_mm + lesion.edema_mm + 4.0
        vox = self.anatomy.voxel_coords(lesion.centres.astype(np.float32)) - lo
        r = reach / self.anatomy.spacing
        box_lo = np.clip(np.floor(vox.min(axis=0) - r).astype(int), 0, None)
        box_hi = np.minimum(np.ceil(vox.max(axis=0) + r).astype(int), self.fractions.shape[1:])
        if np.any(box_hi <= box_lo):
            return None
        box = tuple(slice(int(a), int(b)) for a, b in zip(box_lo, box_hi))
        axes = [np.arange(a, b, dtype=np.float32) + lo[i] for i, (a, b) in enumerate(zip(box_lo, box_hi))]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
        ras = self.anatomy.origin_ras + grid * self.anatomy.spacing
        les = lesion.fractions(ras * np.array([-1.0, -1.0, 1.0], dtype=np.float32)).T.reshape((3,) + grid_shape(box))
        paren = self.fractions[(_PARENCHYMA_ANAT,) + box].sum(axis=0)
        les = les * np.clip(paren, 0.0, 1.0)
        keep = 1.0 - np.clip(les.sum(axis=0) / np.maximum(paren, 1e-6), 0.0, 1.0)
        return box, les, keep

    def volume(self, per_tissue: np.ndarray, wm_override: np.ndarray | None = None) -> np.ndarray:
        """Sum over tissues of fraction x value (values ordered like ALL_TISSUES); ``wm_override`` replaces the
        white-matter term by a per-voxel value (anisotropic diffusion)."""
        n_t = len(TISSUES)
        weights = per_tissue[:n_t].astype(np.float32)
        if wm_override is not None:
            weights = weights.copy()
            weights[INDEX["wm"]] = 0.0
        vol = np.tensordot(weights, self.fractions, axes=(0, 0))
        if wm_override is not None:
            vol += self.fractions[INDEX["wm"]] * wm_override
        if self._lesion is not None:
            box, les, keep = self._lesion
            paren = np.tensordot(weights[_PARENCHYMA_ANAT], self.fractions[(_PARENCHYMA_ANAT,) + box], axes=(0, 0))
            if wm_override is not None:
                paren = paren + self.fractions[(INDEX["wm"],) + box] * wm_override[box]
            vol[box] += -(1.0 - keep) * paren + np.tensordot(per_tissue[n_t:].astype(np.float32), les, axes=(0, 0))
        return vol

    def field(self, name: str) -> np.ndarray:
        """A per-voxel field of the anatomy (texture, anisotropy, field_ppm, fibre) on the crop, float32 (cached)."""
        if name not in self._fields:
            data = getattr(self.anatomy, name)
            crop = (slice(None),) + self.crop if data.ndim == 4 else self.crop
            self._fields[name] = np.asarray(data[crop], dtype=np.float32)
        return self._fields[name]

    def fibre_cos2(self, direction_scanner: np.ndarray) -> np.ndarray:
        """Squared cosine between each voxel's fibre and a gradient direction given in scanner LPS."""
        g = self.subject.pose.T @ np.asarray(direction_scanner, dtype=np.float32)  # into head (LPS) frame
        g = g * np.array([-1.0, -1.0, 1.0], dtype=np.float32)  # LPS -> RAS like the stored fibres
        dot = np.tensordot(g.astype(np.float32), self.field("fibre"), axes=(0, 0))
        return dot * dot

    def at(self, volume: np.ndarray, coords: np.ndarray | None = None) -> np.ndarray:
        """Trilinear samples of a crop volume at the points (or at other crop voxel coordinates)."""
        return ndi.map_coordinates(
            volume, self.coords if coords is None else coords, order=1, mode="constant", cval=0.0, prefilter=False
        )

    def shifted(self, shift_mm: np.ndarray, direction_scanner: np.ndarray) -> np.ndarray:
        """Crop voxel coordinates of the points moved by ``shift_mm`` along a scanner direction."""
        d = (self.subject.pose.T @ np.asarray(direction_scanner, dtype=np.float32)) / self.subject.scale
        d = d * np.array([-1.0, -1.0, 1.0], dtype=np.float32) / self.anatomy.spacing
        return self.coords + d[:, None].astype(np.float32) * shift_mm[None, :].astype(np.float32)


def grid_shape(box: tuple[slice, ...]) -> tuple[int, ...]:
    return tuple(s.stop - s.start for s in box)


# ------------------------------------------------------------------------------------------- helpers


def _depth_offsets(thickness: float, n_max: int) -> np.ndarray:
    """Sub-slice positions across the slice profile (the 2 mm anatomy needs few)."""
    k = int(np.clip(np.ceil(thickness / 2.5), 1, n_max))
    if k == 1:
        return np.zeros(1, dtype=np.float32)
    return np.linspace(-thickness / 2, thickness / 2, k + 2, dtype=np.float32)[1:-1]


def _phase_direction(protocol: Protocol, stack: Stack) -> tuple[int, np.ndarray]:
    """Phase-encoding axis of the image (-2: down columns, -1: along rows) and its LPS direction."""
    if protocol.phase_direction == "ROW":
        return -1, stack.row
    return -2, stack.col


def _bolus(t: float) -> float:
    """Normalised first-pass gadolinium curve (gamma variate) with a recirculation tail, t in 0..1."""
    tp = 0.35
    return float((t / tp) ** 3 * np.exp(3.0 * (1.0 - t / tp)) + 0.12 * (t > tp))


@dataclass
class _View:
    """A stack's sample points on the anatomy, after EPI distortion, with signal loss and field offsets."""

    sampler: Sampler
    shape: tuple[int, ...]  # (n_slices, n_depth, rows, columns)
    coords: np.ndarray  # (3, N) crop voxel coordinates actually sampled
    gain: np.ndarray | float  # through-slice dephasing loss (GRE), per point
    field_hz: np.ndarray | None  # B0 offset per point
    texture: np.ndarray  # multiplicative tissue texture on the crop

    def image(
        self,
        per_tissue: np.ndarray,
        *,
        textured: bool = True,
        wm_override: np.ndarray | None = None,
    ) -> np.ndarray:
        """Per-point values (N,) of a per-tissue property map."""
        vol = self.sampler.volume(per_tissue, wm_override)
        if textured:
            vol = vol * self.texture
        return self.sampler.at(vol, self.coords)


class _Renderer:
    """Carries one series' state (protocol, stack, subject, artefacts) through the rendering steps."""

    def __init__(
        self,
        protocol: Protocol,
        stack: Stack,
        subject: Subject,
        rng: np.random.Generator,
        anatomy: Anatomy,
        max_depth: int,
    ) -> None:
        self.p, self.stack, self.subject, self.rng, self.anatomy = protocol, stack, subject, rng, anatomy
        post = protocol.contrast == "post" and protocol.sequence != "PERFUSION"
        self.tp = subject.tissues.post_contrast() if post else subject.tissues
        self.max_depth = max_depth
        self.phase_axis, self.pe_dir = _phase_direction(protocol, stack)
        disp_ps = stack.pixel_spacing
        acq = (protocol.pixel_spacing[0], protocol.pixel_spacing[1])
        acquired = (int(round(stack.rows * disp_ps[0] / acq[0])), int(round(stack.columns * disp_ps[1] / acq[1])))
        voxel = acq[0] * acq[1] * protocol.slice_thickness
        self.art: Artifacts = sample_artifacts(
            rng,
            acquired=acquired,
            displayed=(stack.rows, stack.columns),
            partial_fourier=protocol.partial_fourier,
            phase_axis=self.phase_axis,
            epi=protocol.epi,
            field_strength=protocol.field_strength,
            voxel_mm3=voxel,
        )
        self.texture_amp = float(rng.uniform(0.02, 0.06))
        self.pe_bw = float(rng.uniform(12.0, 35.0))  # EPI bandwidth along phase encoding, Hz per pixel

    def view(self, depth: np.ndarray) -> _View:
        """Sample points of the stack (with sub-slice ``depth``); EPI-distorted, with GRE dephasing loss."""
        pts = self.stack.points(depth)
        shape = pts.shape[:-1]
        sampler = Sampler(self.anatomy, self.subject, pts.reshape(-1, 3))
        gain: np.ndarray | float
        coords, gain, field_hz = sampler.coords, 1.0, None
        model = self.p.signal_model
        if self.p.epi or model in ("gre", "swi", "fieldmap"):
            field_vol = sampler.field("field_ppm")
            ras = sampler.head_points * np.array([-1.0, -1.0, 1.0], dtype=np.float32)
            shim = self.subject.shim[0] + (ras @ self.subject.shim[1:4]) / 100.0
            field_hz = physics.ppm_to_hz(sampler.at(field_vol) + shim, self.p.field_strength)
            if self.p.epi:  # displacement along phase encoding, |df| / bandwidth-per-pixel pixels
                shift_mm = np.clip(field_hz / self.pe_bw, -12.0, 12.0) * self.p.pixel_spacing[0]
                coords = sampler.shifted(-shift_mm, self.pe_dir)
            if model in ("gre", "swi", "bold", "dsc"):  # intravoxel dephasing across the slice profile
                half = np.full(len(field_hz), self.p.slice_thickness / 2.0, dtype=np.float32)
                up = sampler.at(field_vol, sampler.shifted(half, self.stack.normal))
                down = sampler.at(field_vol, sampler.shifted(-half, self.stack.normal))
                grad = physics.ppm_to_hz(up - down, self.p.field_strength)
                gain = np.abs(np.sinc(grad * self.p.echo_time / 1000.0)).astype(np.float32)
        texture = 1.0 + self.texture_amp * sampler.field("texture")
        return _View(sampler, shape, coords, gain, field_hz, texture)

    def acquire(self, complex_img: np.ndarray, reference: float) -> np.ndarray:
        """Bias field, k-space effects and noise on a stack of complex images (n, R, C)."""
        img = complex_img * bias_field(complex_img.shape, self.art)
        img = kspace_effects(img, self.art, self.rng)
        return add_noise(img, reference / self.art.snr, self.rng)

    def magnitude_scale(self) -> float:
        return float(self.rng.uniform(300.0, 4000.0))


def _reference(values: np.ndarray) -> float:
    """A robust object-signal level (mean of the brightest 40% of non-background pixels)."""
    v = np.abs(values).ravel()
    v = v[v > 0.05 * (v.max() + 1e-9)]
    if v.size == 0:
        return 1.0
    return float(np.mean(np.sort(v)[int(0.6 * v.size) :]))


def _to_magnitude_units(img: np.ndarray, scale: float) -> np.ndarray:
    level = np.percentile(img, 99.5) + 1e-9
    return (img / level * scale).astype(np.float32)


def _to_phase_units(phase: np.ndarray, vendor: str) -> np.ndarray:
    if vendor == "Siemens":
        return (phase / np.pi * 4096.0).clip(-4096, 4095).astype(np.float32)
    return (phase * 1000.0).astype(np.float32)


# ---------------------------------------------------------------------------------------- renderers


def _separable_signal(r: _Renderer) -> np.ndarray:
    """Per-tissue signal for sequences whose contrast is a weighted sum of tissue signals."""
    p, tp, ph = r.p, r.tp, r.p.physics
    model = p.signal_model
    if model == "se":
        sig = physics.spin_echo(tp, ph["tr"], ph["te"], int(ph.get("etl", 1)))
    elif model == "ir":
        sig = physics.inversion_recovery(tp, ph["tr"], ph["te"], ph["ti"])
    elif model == "mprage":
        sig = physics.mprage(tp, ph["ti"], ph["tr_shot"], ph["esp"], ph["flip"], ph["te"], int(ph.get("n_exc", 176)))
    elif model in ("spgr", "gre", "bold", "swi", "dsc"):
        sig = physics.spoiled_gre(tp, ph["tr"], ph["te"], ph["flip"])
    elif model == "fieldmap":
        sig = physics.spoiled_gre(tp, ph["tr"], ph["te"], ph["flip"])
    elif model == "scout":
        sig = (
            physics.balanced_ssfp(tp, ph["tr"], ph["te"], ph["flip"])
            if ph.get("ssfp")
            else physics.spoiled_gre(tp, ph["tr"], ph["te"], ph["flip"])
        )
    elif model == "tof":
        return physics.time_of_flight(tp, ph["tr"], ph["te"], ph["flip"], r.rng)
    elif model in ("dwi", "adc", "fa"):
        sig = physics.spin_echo(tp, ph["tr"], ph["te"])
    elif model == "asl":
        sig = physics.spin_echo(tp, 4000.0, 15.0)
    else:
        sig = physics.spin_echo(tp, ph.get("tr", 2000.0), ph.get("te", 50.0))
    if p.scan_options and "FS" in p.scan_options or p.epi:
        sig = sig.copy()
        sig[INDEX["fat"]] *= r.rng.uniform(0.03, 0.2)  # fat saturation (EPI always fat-suppressed)
    return physics.flow_adjust(sig, model, r.rng)


def _render_standard(r: _Renderer) -> np.ndarray:
    """Magnitude images of separable models (T1, T2, FLAIR, PD, T2*, BOLD, SCOUT, TOF slabs, ...)."""
    v = r.view(_depth_offsets(r.p.slice_thickness, r.max_depth))
    sig = _separable_signal(r)
    if r.p.signal_model == "dsc":
        curve = _bolus(r.p.physics.get("bolus", 0.5))
        r2s = 1.0 / r.p.echo_time * 1.6 * curve * r.tp.cbv / max(float(r.tp.cbv[INDEX["gm"]]), 1e-6)
        sig = sig * np.exp(-r.p.echo_time * np.minimum(r2s, 0.2))
    stack = (v.image(sig) * v.gain).reshape(v.shape).mean(axis=1)
    img = r.acquire(stack.astype(np.complex64), _reference(stack))
    return _to_magnitude_units(np.abs(img), r.magnitude_scale())


def _render_mip(r: _Renderer) -> np.ndarray:
    """TOF maximum-intensity projections through a 50-80 mm slab centred on each slice position."""
    slab = float(r.rng.uniform(50.0, 80.0))
    v = r.view(np.arange(-slab / 2, slab / 2 + 1e-3, 2.0, dtype=np.float32))
    values = v.image(_separable_signal(r)).reshape(v.shape)
    n, d, rows, cols = values.shape
    img = np.abs(r.acquire(values.reshape(n * d, rows, cols).astype(np.complex64), _reference(values)))
    return _to_magnitude_units(img.reshape(n, d, rows, cols).max(axis=1), r.magnitude_scale())


def _render_swi(r: _Renderer) -> np.ndarray:
    """SWI family: magnitude, (high-pass) phase, SWI = magnitude x phase-mask^4, and minimum-intensity projection."""
    image = r.p.image
    depth = (
        np.linspace(-1.5, 1.5, 4, dtype=np.float32) * r.p.slice_thickness
        if image == "mnip"
        else _depth_offsets(r.p.slice_thickness, r.max_depth)
    )
    v = r.view(depth)
    mag = (v.image(_separable_signal(r)) * v.gain).reshape(v.shape)
    chi = v.image(r.tp.chi, textured=False).reshape(v.shape)
    sigma = 6.0 / r.stack.pixel_spacing[0]
    local = chi - ndi.gaussian_filter(chi, (0, 0, sigma, sigma))
    te_s = r.p.echo_time / 1000.0
    hz_per_ppm = physics.GAMMA_MHZ_PER_T * r.p.field_strength
    assert v.field_hz is not None
    phase = -2 * np.pi * te_s * (0.4 * local * hz_per_ppm + 0.08 * v.field_hz.reshape(v.shape))
    n, d, rows, cols = v.shape
    z = (mag * np.exp(1j * phase)).reshape(n * d, rows, cols).astype(np.complex64)
    z = r.acquire(z, _reference(mag)).reshape(n, d, rows, cols)
    if image == "phase":
        return _to_phase_units(np.angle(z.mean(axis=1)), r.p.vendor)
    m = np.abs(z)
    if image == "magnitude":
        return _to_magnitude_units(m.mean(axis=1), r.magnitude_scale())
    ph = np.angle(z)
    mask = np.where(ph < 0, (np.pi + ph) / np.pi, 1.0)
    swi = m * mask**4
    out = swi.min(axis=1) if image == "mnip" else swi.mean(axis=1)
    return _to_magnitude_units(out, r.magnitude_scale())


def _dw_image(r: _Renderer, v: _View, s0: np.ndarray, b: float, direction: np.ndarray | None) -> np.ndarray:
    """Per-point diffusion-weighted signal: isotropic tissues exp(-b ADC), WM with its fibre tensor."""
    b_mm = b * 1e-3  # ADC in 1e-3 mm2/s
    iso = s0 * np.exp(-b_mm * r.tp.adc)
    if direction is None:  # trace-weighted: geometric mean over three axes == exp(-b MD)
        return v.image(iso)
    wm = INDEX["wm"]
    md = float(r.tp.adc[wm])
    a = physics.fa_to_axial_factor(r.tp.wm_fa * v.sampler.field("anisotropy"))
    cos2 = v.sampler.fibre_cos2(direction)
    d_wm = md * (1 - a) + 3 * md * a * cos2  # lambda_perp + (lambda_par - lambda_perp) cos^2
    return v.image(iso, wm_override=float(s0[wm]) * np.exp(-b_mm * d_wm))


def _render_diffusion(r: _Renderer) -> np.ndarray:
    """DWI (b0, trace, one direction), ADC from b0 + trace, FA / colour FA from a 6-direction tensor fit."""
    v = r.view(_depth_offsets(r.p.slice_thickness, r.max_depth))
    s0 = _separable_signal(r)
    b = float(r.p.physics.get("b") or 1000.0)
    image = r.p.image

    def acquire(values: np.ndarray, ref: float) -> np.ndarray:
        stack = values.reshape(v.shape).mean(axis=1)
        return np.abs(r.acquire(stack.astype(np.complex64), ref))

    b0_values = v.image(s0)
    ref = _reference(b0_values)
    if image == "b0" or (image != "adc" and image not in ("fa", "colfa") and b == 0):
        return _to_magnitude_units(acquire(b0_values, ref), r.magnitude_scale())
    if image in ("trace", "direction"):
        g = None
        if image == "direction":
            ph = r.p.physics
            g = np.array([ph["gx"], ph["gy"], ph["gz"]]) if "gx" in ph else r.rng.normal(size=3)
            g = g / np.linalg.norm(g)
        return _to_magnitude_units(acquire(_dw_image(r, v, s0, b, g), ref), r.magnitude_scale())
    ref = ref / 2.5  # maps come from averaged, multi-direction acquisitions: less noise than one DWI
    b0 = acquire(b0_values, ref)
    mask = b0 > 0.12 * np.percentile(b0, 99)
    if image == "adc":
        trace = acquire(_dw_image(r, v, s0, b, None), ref)
        adc = np.log(np.maximum(b0, 1e-6) / np.maximum(trace, 1e-6)) / (b * 1e-3)
        return (np.clip(adc, 0.0, 4.0) * 1000.0 * mask).astype(np.float32)
    dws = [acquire(_dw_image(r, v, s0, b, g), ref) for g in physics.DTI_DIRECTIONS]
    inside = mask.ravel()
    _, fa_in, vec = physics.fit_tensor(
        b0.ravel()[inside], np.stack([d.ravel()[inside] for d in dws], axis=1), b, principal=image == "colfa"
    )
    fa = np.zeros(b0.size, dtype=np.float32)
    fa[inside] = fa_in
    if image == "colfa":  # luminance of the direction-encoded colour FA
        assert vec is not None
        fa[inside] *= np.abs(vec) @ np.array([0.299, 0.587, 0.114], dtype=np.float32) * 1.6
        return (fa.reshape(b0.shape) * 255.0).clip(0, 255).astype(np.float32)
    return (fa.reshape(b0.shape) * 1000.0).astype(np.float32)


def _render_perfusion_map(r: _Renderer) -> np.ndarray:
    """ASL (raw label/control, perfusion-weighted difference, CBF) and DSC rCBV maps."""
    v = r.view(_depth_offsets(r.p.slice_thickness, r.max_depth))
    image, ph = r.p.image, r.p.physics
    if image == "rcbv":
        cbv = np.minimum(r.tp.cbv, r.rng.uniform(0.12, 0.25))  # large vessels saturate the colour scale
        stack = ndi.gaussian_filter(v.image(cbv).reshape(v.shape).mean(axis=1), (0, 1.0, 1.0))
        img = np.abs(r.acquire(stack.astype(np.complex64), _reference(stack) * 2.0))
        return _to_magnitude_units(img, float(r.rng.uniform(200, 1000)))
    control_sig = _separable_signal(r) * float(r.rng.uniform(0.15, 0.5))  # background suppression
    t1b = float(r.tp.t1[INDEX["artery"]]) / 1000.0
    pld, tau = ph["pld"] / 1000.0, ph["label_duration"] / 1000.0
    # single-compartment model (Alsop et al. 2015): dM = 2 alpha M0 CBF T1b (1 - e^-tau/T1b) e^-PLD/T1b / (6000 lambda)
    efficiency = 2 * 0.85 * t1b * (1 - np.exp(-tau / t1b)) * np.exp(-pld / t1b) / (6000.0 * 0.9)
    delta = r.tp.cbf * efficiency
    if r.rng.random() < 0.3:
        delta = delta.copy()
        delta[INDEX["artery"]] = 0.05  # arterial transit artefact: label still in the arteries
    control = v.image(control_sig).reshape(v.shape).mean(axis=1)
    dm = v.image(delta * r.tp.pd, textured=False).reshape(v.shape).mean(axis=1)
    if image == "asl_raw":
        values = control - (dm * control_sig.max() if ph.get("phase", 0.0) > 0.5 else 0.0)
        img = np.abs(r.acquire(values.astype(np.complex64), _reference(values)))
        return _to_magnitude_units(img, r.magnitude_scale())
    ref = _reference(dm) * 2.5  # difference of many averaged label/control pairs: modest SNR
    img = np.real(r.acquire(dm.astype(np.complex64), ref))
    head = control > 0.1 * _reference(control)
    if image == "cbf":
        return (np.clip(img / efficiency, -20, 200) * head).astype(np.float32)
    return _to_magnitude_units(np.clip(img, 0, None) * head, float(r.rng.uniform(100, 1000)))


def _render_fieldmap(r: _Renderer) -> np.ndarray:
    """Dual-echo GRE field map: magnitude (first echo) or wrapped phase difference."""
    v = r.view(_depth_offsets(r.p.slice_thickness, r.max_depth))
    mag = v.image(_separable_signal(r)) * v.gain
    assert v.field_hz is not None
    dte = (r.p.physics["te2"] - r.p.physics["te"]) / 1000.0
    dphi = 2 * np.pi * v.field_hz * dte
    stack = (mag * np.exp(1j * dphi)).reshape(v.shape).mean(axis=1).astype(np.complex64)
    img = r.acquire(stack, _reference(mag))
    if r.p.image == "phase":
        return _to_phase_units(np.angle(img), r.p.vendor)
    return _to_magnitude_units(np.abs(img), r.magnitude_scale())


def _render_other(r: _Renderer) -> np.ndarray:
    """OTHER: screen saves / reports, spectroscopy plots, T2 maps, noise-like research images."""
    kind, rng = r.p.image, r.rng
    n, rows, cols = len(r.stack.offsets), r.stack.rows, r.stack.columns
    if kind == "qmap":
        v = r.view(np.zeros(1, dtype=np.float32))
        t2 = v.image(np.minimum(r.tp.t2, 2000.0), textured=False).reshape(v.shape).mean(axis=1)
        img = np.abs(r.acquire(t2.astype(np.complex64), _reference(t2) * 2.0))
        head = v.image(np.ones_like(r.tp.t2), textured=False).reshape(v.shape).mean(axis=1) > 0.3
        return (np.clip(img, 0, 500) * head).astype(np.float32)
    if kind == "noise":
        img = np.abs(rng.normal(size=(n, rows, cols)) + 1j * rng.normal(size=(n, rows, cols)))
        return (img * rng.uniform(5, 50)).astype(np.float32)
    out = np.zeros((n, rows, cols), dtype=np.float32)
    for i in range(n):
        out[i] = _draw_screen(rows, cols, rng) if kind == "screen" else _draw_spectrum(rows, cols, rng)
    return out


def _draw_screen(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """A report-like screen save: text lines (bars of glyph blocks) and a table frame on a flat background."""
    img = np.full((rows, cols), rng.uniform(0, 40), dtype=np.float32)
    y = int(rows * 0.06)
    line_h = max(2, rows // 40)
    while y < rows * 0.92:
        x = int(cols * rng.uniform(0.04, 0.1))
        end = int(cols * rng.uniform(0.3, 0.95))
        while x < end:
            w = int(rng.integers(1, 4)) * max(1, cols // 90)
            img[y : y + line_h, x : x + w] = 230 if rng.random() < 0.8 else 0
            x += w + max(1, cols // 120) + (int(rng.integers(2, 6)) if rng.random() < 0.15 else 0)
        y += int(line_h * rng.uniform(1.8, 3.0))
    if rng.random() < 0.5:
        t = int(rows * 0.5)
        img[t, int(cols * 0.05) : int(cols * 0.95)] = 200
        img[t : int(rows * 0.9), int(cols * 0.05)] = 200
    return img


def _draw_spectrum(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """An MR spectrum plot (NAA, creatine, choline, lipid/lactate peaks) with axes, as a screen capture."""
    img = np.zeros((rows, cols), dtype=np.float32)
    ppm = np.linspace(4.2, 0.2, cols)
    peaks = [
        (2.01, rng.uniform(0.6, 1.0)),
        (3.03, rng.uniform(0.35, 0.6)),
        (3.21, rng.uniform(0.3, 0.8)),
        (3.56, rng.uniform(0.1, 0.3)),
        (1.33, rng.uniform(0.0, 0.5)),
        (0.9, rng.uniform(0.0, 0.3)),
    ]
    width = rng.uniform(0.03, 0.07)
    spec = sum(a * width**2 / ((ppm - c) ** 2 + width**2) for c, a in peaks) + rng.normal(0, 0.02, cols)
    spec = np.convolve(spec, np.ones(3) / 3, mode="same")
    base, top = int(rows * 0.85), int(rows * 0.15)
    ys = (base - (base - top) * spec / (spec.max() + 1e-6)).astype(int).clip(0, rows - 1)
    for x in range(1, cols):
        lo, hi = sorted((ys[x - 1], ys[x]))
        img[lo : hi + 1, x] = 255
    img[base + 2, int(cols * 0.05) : int(cols * 0.95)] = 180
    for tick in np.linspace(0.05, 0.95, 9):
        img[base + 2 : base + 6, int(cols * tick)] = 180
    return img


def tissue_signal(protocol: Protocol, subject: Subject, rng: np.random.Generator) -> np.ndarray:
    """Per-tissue signal (ordered like :data:`radclass.simulate.tissues.ALL_TISSUES`) of a separable contrast,
    with flow effects and fat suppression; gadolinium applied for post-contrast protocols."""
    anatomy = load_anatomy()
    stack = Stack(
        np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]), anatomy.brain_center_lps, np.zeros(1), 8, 8, (4.0, 4.0)
    )
    return _separable_signal(_Renderer(protocol, stack, subject, rng, anatomy, 1))


def render_stack(
    protocol: Protocol,
    stack: Stack,
    subject: Subject,
    rng: np.random.Generator,
    *,
    anatomy: Anatomy | None = None,
    max_depth: int = 3,
) -> np.ndarray:
    """Pixel values (n_slices, rows, columns) float32 of ``protocol`` acquired on ``stack`` of ``subject``."""
    r = _Renderer(protocol, stack, subject, rng, anatomy or load_anatomy(), max_depth)
    model = protocol.signal_model
    if model == "other":
        return _render_other(r)
    if model == "swi":
        return _render_swi(r)
    if model in ("dwi", "adc", "fa"):
        return _render_diffusion(r)
    if model == "asl" or protocol.image == "rcbv":
        return _render_perfusion_map(r)
    if model == "fieldmap":
        return _render_fieldmap(r)
    if model == "tof" and protocol.image == "mip":
        return _render_mip(r)
    return _render_standard(r)
